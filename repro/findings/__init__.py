"""Findings: a verdict on each of the paper's claims, from the stored runs.

`tidy` turns a results frame into per-seed rows at each cell's chosen learning rate;
`statistics` wraps the scipy/statsmodels tests; `verdicts` holds the rules that turn test
results into holds / contradicted / inconclusive / pending; `evidence` applies them to the
cells a claim needs; `claims` is the registry of the paper's claims; `summary` writes the
findings table and the answer paragraph.
"""
