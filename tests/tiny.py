"""Small, fast estimator settings shared by the test files."""

#: a small network that trains in well under a second (one network: most
#: tests look inside it; tests/test_members.py covers several)
TINY = dict(hidden_size=8, embedding_dim=8, n_members=1, random_state=0)
#: a deterministic setup: one batch holds all samples, no dropout of any kind
EXACT = dict(
    TINY,
    batch_size=512,
    dropout=0.0,
    token_dropout=0.0,
    early_stopping=False,
    max_epochs=4,
    lr=1e-2,
)
#: a few epochs of a small network
SMALL = dict(hidden_size=12, embedding_dim=8, max_epochs=3, random_state=0)
