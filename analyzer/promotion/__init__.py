"""V1 → V3 → V2 promotion: stages and gate policies, the candidate state machine, gate checks, audit chain.

Pure modules (no I/O); the ledger lives in :mod:`analyzer.store.ledger` and the use cases in
:mod:`analyzer.service.promotion`.
"""
