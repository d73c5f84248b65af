"""Figures of scans, masks, boxes and heatmaps: orthogonal views, slice montages, box overlays."""
