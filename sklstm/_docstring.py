"""Shared docstring text, written once and substituted into the estimators."""

from __future__ import annotations


class Substitution:
    """Decorator that fills ``%(name)s`` placeholders of a docstring."""

    def __init__(self, **params: str):
        self.params = params

    def __call__(self, obj):
        if obj.__doc__:
            obj.__doc__ = obj.__doc__ % self.params
        return obj


_network_params = """cell : {"lstm", "gru", "rnn", "peephole", "cifg"}, default="lstm"
        The recurrent cell: ``"lstm"`` (PyTorch's fused ``nn.LSTM``: forget,
        input and output gates and a cell state), ``"gru"``, ``"rnn"``
        (plain tanh recurrence), ``"peephole"`` (LSTM whose gates also see
        the cell state) or ``"cifg"`` (LSTM with coupled input and forget
        gates). See :ref:`cells`.

    embedding_dim : int or "auto", default="auto"
        Size of the token embedding (of each member, see ``n_members``).
        ``"auto"``: 128 for one network, 64 for each of several members.
        Used for token-id input only.

    hidden_size : int or "auto", default="auto"
        Number of units in each recurrent layer (per direction, of each
        member). ``"auto"``: 128 for token ids, 64 for numeric series and for
        each of several members.

    num_layers : int, default=1
        Number of stacked recurrent layers.

    bidirectional : bool, default=False
        If True, each layer also reads every sequence backwards (inside its own
        length, so padding is never seen) and the two directions are
        concatenated.

    proj_size : int, default=0
        If > 0, an LSTM with projections of this size (``nn.LSTM``'s
        ``proj_size``): the hidden state passed on is projected down from
        ``hidden_size``. Only for ``cell="lstm"``; must be smaller than
        ``hidden_size``.

    dropout : float or "auto", default="auto"
        Dropout probability between stacked layers and before the output layer.
        Never applied inside the recurrence. Must be in [0, 1). ``"auto"``:
        0.2 for token ids, 0.5 for numeric series (small numeric datasets
        overfit quickly).

    pooling : {"auto", "last", "mean", "max", "attention", "concat"}, \
default="auto"
        How the sequence of hidden states becomes one vector: the last valid
        state (both directions when bidirectional), the mean or maximum over
        the valid (non-padding) steps, ``"attention"``: a weighted mean
        with learned weights (additive attention) over the valid steps, or
        ``"concat"``: the last state, the mean and the maximum side by side.
        ``"auto"``: ``"concat"`` for token ids, ``"mean"`` for series read in
        patches (see ``patch_size``), ``"last"`` for other numeric series.

    n_members : int or "auto", default="auto"
        How many networks are trained, one after another, each with its own
        initialisation, batch order and early stop (on the same validation
        split); they predict together, by the mean of their probabilities
        (classifier) or predictions (regressor). Averaging independent
        networks removes much of the seed-to-seed spread of one network:
        on the text sets of :ref:`accuracy` three members of size 64 are
        1-3 points more accurate than one network of size 128, at 1.2-1.6
        times its fit time. ``"auto"``: 3 for token ids, 1 for numeric
        series, for ``partial_fit``, ``warm_start=True`` and training with
        an ``accelerator`` (which continue or distribute one network).
        With several members, ``net_``'s history, ``n_iter_``,
        ``loss_curve_`` and the validation scores are the first member's.

    patch_size : int or "auto", default="auto"
        Numeric series only: read windows of ``patch_size`` consecutive steps
        (all features), one window every ``max(1, patch_size // 2)`` steps, as
        single input vectors, so that the LSTM runs over a series about
        ``2 / patch_size`` as long. ``"auto"``: series of at least 200 steps
        are read in windows of a 50th of their length (OSULeaf, 427 steps:
        8; ACSF1, 1460 steps: 29), shorter ones step by step (1). Ignored
        for token ids.

    token_dropout : float or "auto", default="auto"
        Word dropout for token-id input: during training each real token is
        replaced by the out-of-vocabulary id with this probability. It
        regularises the network and trains the out-of-vocabulary embedding that
        words unseen in ``fit`` map to. ``"auto"``: 0.25, and none for a
        network that starts from a ``pretrained`` language model. Ignored for
        numeric input. Must be in [0, 1).

    embeddings : array-like of shape (n_token_ids, dim), default=None
        Pretrained word vectors: row ``i`` initialises the embedding of token
        id ``i`` (as numbered by the :class:`~sklstm.TextSequencer` in front).
        Build it with :func:`~sklstm.load_word_vectors`. When given, the
        embedding size is the matrix's width and ``embedding_dim`` is not
        used. Token-id input only.

    freeze_embeddings : bool, default=False
        Keep the embedding weights fixed during training (with ``embeddings``
        or ``pretrained``; useful on small data).

    pretrained : LSTMLanguageModel, "en" or None, default=None
        Start from a language model pre-trained on unlabelled text (ULMFiT,
        Howard & Ruder 2018): a fitted :class:`~sklstm.LSTMLanguageModel`, or
        ``"en"``, the English model shipped with sklstm. The estimator then
        reads raw text itself, with the language model's tokenizer and
        vocabulary (token ids are refused, so the two cannot disagree); words
        of the training texts that the vocabulary lacks are added, their
        vectors starting at the mean of the pretrained ones
        (``vocabulary_coverage_`` says how much of the training text the
        pretrained vocabulary covered). The network is the language model's
        (its embedding and LSTM layers, copied; ``embedding_dim``,
        ``hidden_size``, ``num_layers``, ``cell``, ``bidirectional`` and
        ``proj_size`` must be left at their defaults) with a new output layer,
        fine-tuned with gradual unfreezing and a slanted triangular
        learning rate over ``max_epochs`` (``"auto"``: 10). One network
        (``n_members="auto"`` is 1). The language model itself is never
        changed, and a clone starts from the same one. See
        :ref:`pretraining`.

    lm_epochs : int, default=1
        With ``pretrained``: first fine-tune a copy of the language model
        for this many epochs on the training texts (ULMFiT's second stage;
        0 skips it). Ignored without ``pretrained``.

    scale_inputs : bool, default=True
        Standardise numeric input per feature (mean and standard deviation
        over all valid time steps, learned in ``fit`` and stored inside the
        network). Turn off only for input that is already scaled."""

_training_params = """max_epochs : int or "auto", default="auto"
        Maximum number of passes over the training data. ``"auto"``: 30 with
        early stopping; without it (small data), enough epochs for at least
        800 optimizer steps. Without early stopping the training-loss stop
        does not act in the first 400 optimizer steps (or the whole budget,
        if that is shorter), also for a number here, since with one or two
        batches per epoch the first plateau of the loss is rarely the last.

    batch_size : int, default=64
        Number of sequences per training batch. Batches are formed from
        sequences of similar length and padded only to their own longest
        member.

    lr : float or "auto", default="auto"
        Learning rate of the optimizer. ``"auto"``: 3e-3, and 1e-2 for a
        network that starts from a ``pretrained`` language model (the peak
        of its slanted triangular schedule; chosen on validation carves, see
        :ref:`pretraining`).

    lr_schedule : {"plateau", "cosine"} or None, default=None
        Learning-rate schedule: ``"plateau"`` halves the learning rate when
        the monitored loss (validation loss with early stopping, training loss
        otherwise) has not improved for ``n_iter_no_change // 2`` epochs;
        ``"cosine"`` anneals it to 0 over ``max_epochs`` epochs. None keeps it
        constant.

    optimizer : {"adam", "adamw", "sgd", "rmsprop", "adagrad"} or class, \
default="adam"
        The optimizer, by name or as a ``torch.optim.Optimizer`` subclass.

    optimizer_kwargs : dict, default=None
        Extra keyword arguments for the optimizer, e.g.
        ``{"betas": (0.9, 0.98)}``.

    weight_decay : float, default=0.0
        L2 penalty (decoupled weight decay with ``optimizer="adamw"``).

    max_grad_norm : float or None, default=1.0
        Gradients are rescaled so that their total norm is at most this value
        (gradient clipping, the usual guard against exploding gradients in
        recurrent networks). None disables clipping.

    early_stopping : "auto" or bool, default="auto"
        Whether to hold out ``validation_fraction`` of the training data and
        stop when the validation score has not improved by at least ``tol``
        for ``n_iter_no_change`` epochs; the weights of the best epoch are
        kept. ``"auto"`` enables it when there are at least 1000 training
        samples. Without early stopping, training stops when the training loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping (and for
        ``calibration``). For token sequences the split keeps repeated
        sequences on one side; in phrase-level data (at least a tenth of the
        sequences occur inside a longer one, as in SST-2) short sequences (up
        to 32 tokens) also go to the side of the longest one holding them: a
        phrase cut from a training sentence is no held-out evidence. The
        held-out share can then differ a little from ``validation_fraction``.

    n_iter_no_change : int, default=5
        Number of epochs without improvement before training stops.

    tol : float, default=1e-4
        Minimum improvement of the monitored score (or loss) that counts.

    refit : bool, default=False
        After early stopping, train a fresh network (same seed and settings)
        on all the training data, the held-out rows included, for the number
        of epochs at which the held-out loss was lowest. It costs about a
        third more time; in the accuracy study its effect on text was within
        seed noise (see :ref:`accuracy`), worth a cross-validated try on small
        data. Calibration (``temperature_``, ``conformity_scores_``) stays
        that of the network early stopping chose, measured on rows it had not
        seen; for the refitted network it is an estimate. No effect without
        early stopping, with ``warm_start`` continuing a fitted model, or with
        ``partial_fit``.

    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances, or ``(name, callback)`` tuples)
        run during training, after sklstm's own; e.g. a ``Checkpoint`` or a
        logger. They are used as given, so their state reflects the last fit.

    warm_start : bool, default=False
        If True, ``fit`` continues training the current network (up to
        ``max_epochs`` more epochs) instead of starting anew; classes, input
        and target scaling and the vocabulary size stay those of the first
        fit. ``loss_curve_`` and ``n_iter_`` then count all epochs.

    module_kwargs : dict, default=None
        Extra keyword arguments for the network module
        (:class:`sklstm._module.SequenceNet`); an escape hatch.

    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where the network trains and predicts. ``"auto"`` uses CUDA when it is
        available. Any ``torch.device`` string such as ``"cuda:1"`` works.
        With an ``accelerator``, the accelerator chooses the device
        (``accelerator.device``) and ``device`` must be ``"auto"`` or name
        the same kind of device (``"cuda"`` for a GPU accelerator, ``"cpu"``
        for ``Accelerator(cpu=True)``); anything else raises a ValueError.

    precision : {"auto", "32", "bf16-mixed", "16-mixed"}, default="auto"
        Numeric precision of training and prediction. ``"32"``: float32
        throughout. ``"bf16-mixed"`` / ``"16-mixed"``: the matrix products run
        in bfloat16 / float16 under :func:`torch.autocast` while weights,
        optimizer state, the loss and the outputs stay float32 (the output
        layer float64); float16 training scales the loss and unscales the
        gradients before clipping. ``"auto"``: ``"bf16-mixed"`` on a CUDA
        device that supports bfloat16, ``"32"`` everywhere else (CPUs
        included). A precision the device cannot run raises a ValueError at
        ``fit``; a model trained in mixed precision predicts in float32 on a
        device without it (a GPU model loaded on a CPU). See :ref:`gpu`.

    deterministic : bool or "auto", default="auto"
        On CUDA, use deterministic kernels (cuDNN without autotuning,
        PyTorch's deterministic algorithms, a fixed cuBLAS workspace) so that
        two fits with the same ``random_state`` are identical; the caller's
        settings are restored after ``fit``. ``"auto"``: on when
        ``random_state`` is set. No effect on a CPU, where training is
        deterministic anyway.

    predict_batch_size : int, default=1024
        Rows per batch in ``predict``, ``predict_proba`` and ``score``. The
        device holds one batch at a time and each batch's outputs move to
        host memory at once, so device memory does not grow with the number
        of rows; lower it if a batch of very long sequences does not fit.

    accelerator : accelerate.Accelerator or None, default=None
        Train through Hugging Face Accelerate (install ``sklstm[accelerate]``),
        e.g. on several GPUs with ``accelerate launch``: each process trains
        on its share of every epoch's length-bucketed batches, evaluates the
        whole validation set, and all processes take the same stopping
        decisions. Only ``fit`` from scratch: ``partial_fit`` and
        ``warm_start=True`` raise a ValueError. The fitted estimator holds a
        plain network on ``accelerator.device`` and no reference to the
        accelerator; pickling, copying and :func:`sklstm.save` store this
        parameter as None. See :ref:`multi-gpu`.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, batch order and the validation
        split. The same value gives the same model; the global NumPy and torch
        random states of the caller are left untouched.

    verbose : int, default=0
        If 1 or more, print a table with one line per epoch (training loss,
        validation loss and score, duration); 2 or more also shows a progress
        bar over the batches of each epoch."""

_fitted_attrs = """net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the PyTorch module and
        ``net_.history`` the full training history.

    n_features_in_ : int
        Number of time steps, for equal-width 2-D float input only (the only
        input whose width is fixed; see :ref:`input_conventions`).

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame with string column names.

    n_iter_ : int
        Number of epochs run (with ``refit``: by the fit that chose the
        epochs, as ``loss_curve_`` and ``validation_scores_``).

    loss_curve_ : list of float
        Mean training loss of each epoch.

    refit_epochs_ : int, list of int or None
        Epochs of the network trained again on all the data (``refit``), a
        list of one per member with several members; None when no refit ran.

    validation_scores_ : list of float or None
        Validation score of each epoch (%(score_name)s) with early stopping;
        None otherwise.

    best_validation_score_ : float or None
        Best validation score with early stopping; None otherwise.

    best_loss_ : float or None
        Lowest training loss without early stopping; None otherwise.

    sequencer_ : TextSequencer
        With ``pretrained`` only: the language model's tokenizer, its
        vocabulary extended with the training texts' words.

    vocabulary_coverage_ : float
        With ``pretrained`` only: the share of the training texts' tokens
        that the pretrained vocabulary holds."""

_input_doc = """X : array-like or list of array-like
        Token ids (2-D integer array, 0 = padding), univariate series (2-D
        float array), multivariate series (3-D float array, batch x time x
        features) or a list of sequences of different lengths. See
        :ref:`input_conventions`. With ``pretrained``: raw texts (a list,
        array or column of str)."""

DOCS = {
    "network_params": _network_params,
    "training_params": _training_params,
    "input_doc": _input_doc,
}


def fitted_attrs(score_name: str) -> str:
    return _fitted_attrs % {"score_name": score_name}
