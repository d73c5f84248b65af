"""Evaluation of models and explanations.

Modules: `stats` (AUROC, bootstrap intervals), `binarise`, `boxes`, `localisation` (IoU, Dice,
pointing game, mass accuracy, pixel ROC-AUC, OrganIoU), `localisation_tables`, `organs`
(PARTITION-style organ masks), `faithfulness` (deletion/insertion, probability drops),
`similarity` (Spearman, SSIM, HOG between maps), `sanity` (model and data randomisation).
"""
