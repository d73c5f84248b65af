"""Evaluation of models and explanations: statistics, localisation, faithfulness, sanity."""
