"""SequenceNet: embedding or scaling, stacked cells, pooling, the output layer."""

import numpy as np
import pytest
import torch
from tiny import EXACT

from sklstm import (
    LSTMClassifier,
)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_leaks_into_pooling(pooling, bidirectional, make_tokens):
    X, y, _ = make_tokens(n=60)
    clf = LSTMClassifier(
        pooling=pooling, bidirectional=bidirectional, **dict(EXACT, max_epochs=1)
    ).fit(X, y)
    wider = np.pad(X, ((0, 0), (0, 7)))
    np.testing.assert_allclose(
        clf.predict_proba(wider), clf.predict_proba(X), atol=1e-6
    )
    ragged = [row[: max(1, int(np.flatnonzero(row).max(initial=0)) + 1)] for row in X]
    np.testing.assert_allclose(
        clf.predict_proba(ragged), clf.predict_proba(X), atol=1e-6
    )


def test_attention_weights_ignore_padding():
    from sklstm._module import SequenceNet

    torch.manual_seed(0)
    net = SequenceNet(
        n_outputs=2, n_tokens=20, hidden_size=4, embedding_dim=4, pooling="attention"
    ).eval()
    x = torch.tensor([[3, 4, 5, 0, 0]])
    garbage = torch.tensor([[3, 4, 5, 9, 9]])
    with torch.no_grad():
        a = net(x, torch.tensor([3]))
        b = net(garbage, torch.tensor([3]))
    torch.testing.assert_close(a, b)


def test_proj_size(token_data):
    X, y, _ = token_data
    clf = LSTMClassifier(proj_size=4, pooling="last", **dict(EXACT, max_epochs=1))
    clf.fit(X, y)
    assert clf.net_.module_.forward_layers[0].proj_size == 4
    assert clf.net_.module_.head.in_features == 4
    # concat pooling reads last, mean and max
    concat = LSTMClassifier(proj_size=4, pooling="concat", **dict(EXACT, max_epochs=1))
    concat.fit(X, y)
    assert concat.net_.module_.head.in_features == 3 * 4
    with pytest.raises(ValueError, match="only available for cell='lstm'"):
        LSTMClassifier(proj_size=4, cell="gru", **EXACT).fit(X, y)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        LSTMClassifier(proj_size=8, **EXACT).fit(X, y)


def test_scale_inputs_off(rng):
    X = rng.normal(loc=5.0, scale=3.0, size=(40, 6, 2))
    y = rng.integers(0, 2, size=40)
    on = LSTMClassifier(**dict(EXACT, max_epochs=1)).fit(X, y)
    off = LSTMClassifier(scale_inputs=False, **dict(EXACT, max_epochs=1)).fit(X, y)
    assert np.abs(on._input_mean - 5.0).max() < 1.0
    np.testing.assert_array_equal(off._input_mean, 0.0)
    np.testing.assert_array_equal(off._input_scale, 1.0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole", "cifg"])
def test_every_cell_stacks_bidirectional_and_ignores_padding(cell, make_tokens):
    X, y, _ = make_tokens(n=80)
    clf = LSTMClassifier(
        cell=cell,
        num_layers=2,
        bidirectional=True,
        **dict(EXACT, dropout=0.3, max_epochs=2),
    ).fit(X, y)
    from sklstm._module import _CELLS

    assert type(clf.net_.module_.forward_layers[1]) is _CELLS[cell]
    assert type(clf.net_.module_.backward_layers[0]) is _CELLS[cell]
    np.testing.assert_allclose(
        clf.predict_proba(np.pad(X, ((0, 0), (0, 5)))), clf.predict_proba(X), atol=1e-6
    )
    same = LSTMClassifier(
        cell=cell,
        num_layers=2,
        bidirectional=True,
        **dict(EXACT, dropout=0.3, max_epochs=2),
    ).fit(X, y)
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole", "cifg"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_macs_count_every_gate_of_the_first_layer(cell, bidirectional):
    from sklstm._module import SequenceNet

    gates = {"lstm": 4, "peephole": 4, "gru": 3, "cifg": 3, "rnn": 1}[cell]
    net = SequenceNet(
        n_outputs=2,
        n_tokens=50,
        embedding_dim=6,
        hidden_size=10,
        num_layers=2,
        cell=cell,
        bidirectional=bidirectional,
    )
    directions = 2 if bidirectional else 1
    assert net.recurrent_macs() == gates * 10 * (10 + 6) * directions


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
def test_traceable_encode_equals_the_eager_one(pooling, make_tokens):
    from sklstm._module import SequenceNet

    torch.manual_seed(0)
    net = SequenceNet(
        n_outputs=3, n_tokens=31, embedding_dim=6, hidden_size=8, num_layers=2,
        bidirectional=True, pooling=pooling,
    ).eval()  # fmt: skip
    X, _, lengths = make_tokens(n=7)
    h = net.embedding(torch.from_numpy(X))
    lengths = torch.from_numpy(lengths)
    with torch.no_grad():
        torch.testing.assert_close(
            net.encode(h, lengths), net.encode(h, lengths, traceable=True)
        )
        one = net.encode(h[:1], lengths[:1])
        torch.testing.assert_close(one, net.encode(h[:1], lengths[:1], traceable=True))


def test_prediction_reads_the_output_layer_as_it_is_now():
    # the float64 output layer is converted on each call: no copy may go stale
    import pickle

    from sklstm._module import SequenceNet

    torch.manual_seed(0)
    net = SequenceNet(n_outputs=3, n_tokens=20, hidden_size=4, embedding_dim=4).eval()
    x, lengths = torch.tensor([[3, 4, 5]]), torch.tensor([3])
    size_before = len(pickle.dumps(net))

    def expected():
        z = net.encode(*net.input_vectors(x, lengths))
        w, b = net.head.weight.double(), net.head.bias.double()
        return torch.nn.functional.linear(z.double(), w, b)

    with torch.inference_mode():
        first = net(x, lengths)
        assert torch.equal(first, expected())
    with torch.no_grad():
        net.head.weight.mul_(2.0)  # edited in place
        assert torch.equal(net(x, lengths), expected())
        assert not torch.equal(net(x, lengths), first)
        state = {k: v.clone() for k, v in net.state_dict().items()}
        net.head.bias.add_(1.0)
        assert torch.equal(net(x, lengths), expected())
    net.load_state_dict(state)
    with torch.inference_mode():
        assert torch.equal(net(x, lengths), expected())
    # a fused optimizer step changes the weights without bumping their
    # version counters: whatever a prediction reuses must still see it
    net.train()
    net(x, lengths).sum().backward()
    assert net.head.weight.grad is not None
    torch.optim.Adam(net.parameters(), lr=0.1, fused=True).step()
    net.eval()
    with torch.inference_mode():
        assert torch.equal(net(x, lengths), expected())
    # nothing extra travels with the module
    net.zero_grad(set_to_none=True)
    again = pickle.loads(pickle.dumps(net.eval()))
    with torch.inference_mode():
        assert torch.equal(again(x, lengths), net(x, lengths))
    assert len(pickle.dumps(net)) == size_before


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: torch.nn.LSTM(3, 5, batch_first=True),
        lambda: torch.nn.LSTM(3, 5, batch_first=True, proj_size=2),
        lambda: torch.nn.LSTM(3, 5, batch_first=True, num_layers=2, dropout=0.5),
        lambda: torch.nn.LSTM(3, 5, batch_first=True, bidirectional=True),
        lambda: torch.nn.GRU(3, 5, batch_first=True),
        lambda: torch.nn.RNN(3, 5, batch_first=True),
    ],
)
@pytest.mark.parametrize("training", [False, True])
def test_run_layer_computes_what_the_layer_call_computes(make_layer, training):
    # the op behind nn.LSTM / nn.GRU runs directly (no argument checks): the
    # same states and gradients as the module call, in training too
    from sklstm._module import run_layer

    torch.manual_seed(0)
    layer = make_layer().train(training)
    h = torch.randn(4, 6, 3, requires_grad=True)
    torch.manual_seed(1)
    got = run_layer(layer, h)
    (g_got,) = torch.autograd.grad(got.sum(), h)
    torch.manual_seed(1)
    want = layer(h)[0]
    (g_want,) = torch.autograd.grad(want.sum(), h)
    assert torch.equal(got, want)
    assert torch.equal(g_got, g_want)


def test_a_hook_on_a_recurrent_layer_sees_the_call():
    # forward hooks (Captum's layer attributions, users' probes) still fire
    from sklstm._module import SequenceNet

    torch.manual_seed(0)
    net = SequenceNet(n_outputs=2, n_tokens=20, hidden_size=4, embedding_dim=4).eval()
    x, lengths = torch.tensor([[3, 4, 5]]), torch.tensor([3])
    with torch.inference_mode():
        before = net(x, lengths)
    seen = []
    handle = net.forward_layers[0].register_forward_hook(
        lambda module, args, out: seen.append(out[0].shape)
    )
    try:
        with torch.inference_mode():
            assert torch.equal(net(x, lengths), before)
    finally:
        handle.remove()
    assert seen == [torch.Size([1, 3, 4])]
