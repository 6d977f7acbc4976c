"""LSTMLanguageModel: an LSTM trained on unlabelled text to predict the next token.

ULMFiT's first stage; the start of ``LSTMClassifier(pretrained=lm)``. The loop
is :mod:`sklstm._lm_training`'s, checkpoints :mod:`sklstm._lm_checkpoint`'s,
the network :class:`sklstm._lm_module.LanguageNet`.
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from sklstm._compat import DocLinkMixin, Interval, StrOptions, _fit_context
from sklstm._embeddings import load_word_vectors
from sklstm._lm_checkpoint import (
    check_resumable,
    corpus_fingerprint,
    read_checkpoint,
    restore,
    write_checkpoint,
)
from sklstm._lm_data import check_corpus, text_chunks
from sklstm._lm_module import LanguageNet, softmax_cutoffs
from sklstm._lm_training import Progress, Trainer, log_likelihood
from sklstm._optim import Adam, fused_adam_supported
from sklstm._persistence import _NoAcceleratorPickleMixin, _VersionedPickleMixin
from sklstm._runtime import (
    flush_denormal,
    resolve_device,
    seed_from,
    thread_limit,
    training_threads,
)
from sklstm._text import TextSequencer

__all__ = ["LSTMLanguageModel", "default_sequencer"]

#: the vocabulary of the default tokenizer: the most frequent tokens
DEFAULT_MAX_FEATURES = 30000


def default_sequencer() -> TextSequencer:
    """The tokenizer a language model uses when none is given."""
    return TextSequencer(max_features=DEFAULT_MAX_FEATURES, min_frequency=2)


class LSTMLanguageModel(
    DocLinkMixin, _NoAcceleratorPickleMixin, _VersionedPickleMixin, BaseEstimator
):
    """LSTM language model: learns text by predicting each next token.

    ``fit`` learns a vocabulary (with a :class:`~sklstm.TextSequencer`), word
    vectors and an LSTM from raw, unlabelled texts. The fitted model is the
    starting point of :class:`~sklstm.LSTMClassifier` and
    :class:`~sklstm.LSTMRegressor` (``pretrained=lm``): on small labelled sets,
    a network that has read a large corpus of the same kind of text first
    knows what the labels alone cannot teach it (ULMFiT, Howard & Ruder
    2018). Read more in :ref:`pretraining`.

    The corpus is read a chunk at a time: pass a list, or a
    :class:`~sklstm.datasets.TextLines` that reads a file line by line. Each
    chunk's documents are joined into one stream (each followed by an
    end-of-document id) and cut into windows of ``bptt`` tokens, shuffled
    within the chunk, each read from a zero state as a classifier reads a
    document. A long fit resumes from a ``checkpoint`` file; ``partial_fit``
    goes on with more text.

    Parameters
    ----------
    sequencer : TextSequencer, default=None
        The tokenizer, fitted on the corpus (a clone of it; the one given is
        left untouched). None uses ``TextSequencer(max_features=30000,
        min_frequency=2)``: lowercased words, one token per CJK character and
        per punctuation mark, the 30,000 most frequent tokens seen at least
        twice. A ``vocabulary`` given to the sequencer is kept as it is.

    embedding_dim : int, default=256
        Size of the word vectors.

    word_vectors : str, path-like or None, default=None
        A file of pretrained word vectors (word2vec / GloVe text format,
        ``.gz`` / ``.xz`` read too) that starts the embedding of the
        vocabulary's words (the others start at random, at the same scale;
        :func:`~sklstm.load_word_vectors`); ``embedding_dim`` must be the
        vectors' size.

    hidden_size : int, default=256
        Size of each LSTM layer's state.

    num_layers : int, default=1
        Number of stacked LSTM layers.

    dropout : float in [0, 1), default=0.1
        Dropout on each layer's output while training.

    softmax : {"auto", "adaptive", "full"}, default="auto"
        The output layer. ``"adaptive"``: an adaptive softmax (Grave et al.
        2017), rare tokens in smaller clusters computed only when needed;
        ``"full"``: one softmax over the vocabulary (10 times slower for
        30,000 tokens); ``"auto"``: adaptive from 4,000 ids on.

    bptt : int, default=70
        Tokens per training window (the steps gradients flow back through).

    batch_size : int, default=64
        Windows per optimizer step.

    max_epochs : int, default=1
        Passes over the corpus in ``fit``.

    lr : float, default=2e-3
        Peak learning rate of Adam. ``fit`` warms up over the first steps
        and then decays it along a cosine to a tenth; ``partial_fit`` warms
        up (a new model only), then keeps it constant.

    max_grad_norm : float or None, default=1.0
        Clip the gradient norm to this value (None: no clipping).

    chunk_size : int, default=2_000_000
        Characters of text tokenized and shuffled at a time. Bounds memory:
        the model holds one chunk's token ids, whatever the corpus size.

    checkpoint : str, path-like or None, default=None
        A file where ``fit`` saves where it stands (every
        ``checkpoint_every`` seconds, after each epoch, on Ctrl-C). If it
        exists when ``fit`` starts, from a fit of the same settings on the
        same corpus, ``fit`` resumes from it and ends with the model an
        uninterrupted fit gives. Read with ``torch.load(weights_only=True)``.

    checkpoint_every : float, default=600
        Seconds between checkpoints.

    device : str or torch.device, default="cpu"
        Where to train (``"cpu"``, ``"cuda"``, ``"auto"``).

    accelerator : accelerate.Accelerator or None, default=None
        Train through Hugging Face Accelerate (several processes or GPUs):
        every process reads the corpus and takes its share of the batches.

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the window order and dropout.

    verbose : int, default=0
        1: the vocabulary and a progress line every 30 seconds (tokens,
        loss, perplexity, tokens/s, time left); 2: every 5 seconds.

    Attributes
    ----------
    sequencer_ : TextSequencer
        The fitted tokenizer and vocabulary.

    module_ : torch.nn.Module
        The network (embedding, LSTM layers, softmax).

    n_iter_ : int
        Finished passes over a corpus (``fit`` epochs and ``partial_fit``
        calls).

    n_steps_ : int
        Optimizer steps taken.

    n_tokens_seen_ : int
        Training tokens predicted so far (every epoch counted).

    loss_curve_ : list of float
        Mean training loss (negative log-likelihood per token) of each pass.

    history_ : list of dict
        A row per progress report: ``epoch``, ``step``, ``tokens``, ``loss``,
        ``lr``, ``tokens_per_s``.

    vocabulary_coverage_ : float
        Share of the corpus's tokens that the vocabulary holds (the rest read
        as out-of-vocabulary).

    See Also
    --------
    LSTMClassifier : Starts from a fitted language model with ``pretrained``.
    TextSequencer : The tokenizer.

    Examples
    --------
    >>> from sklstm import LSTMLanguageModel
    >>> texts = ["the film was good", "the film was bad", "a good plot"] * 20
    >>> lm = LSTMLanguageModel(embedding_dim=16, hidden_size=16, bptt=8,
    ...                        batch_size=8, max_epochs=3, random_state=0)
    >>> lm.fit(texts).perplexity(["the film was good"]) < 10
    True
    """

    _parameter_constraints: dict = {
        "sequencer": [TextSequencer, None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "word_vectors": [str, os.PathLike, None],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "softmax": [StrOptions({"auto", "adaptive", "full"})],
        "bptt": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "checkpoint": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "accelerator": "no_validation",
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        sequencer=None,
        embedding_dim=256,
        word_vectors=None,
        hidden_size=256,
        num_layers=1,
        dropout=0.1,
        softmax="auto",
        bptt=70,
        batch_size=64,
        max_epochs=1,
        lr=2e-3,
        max_grad_norm=1.0,
        chunk_size=2_000_000,
        checkpoint=None,
        checkpoint_every=600.0,
        device="cpu",
        accelerator=None,
        random_state=None,
        verbose=0,
    ):
        self.sequencer = sequencer
        self.embedding_dim = embedding_dim
        self.word_vectors = word_vectors
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.softmax = softmax
        self.bptt = bptt
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr = lr
        self.max_grad_norm = max_grad_norm
        self.chunk_size = chunk_size
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.accelerator = accelerator
        self.random_state = random_state
        self.verbose = verbose

    # --- fitting ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the vocabulary and train the network on a corpus.

        Parameters
        ----------
        X : iterable of str
            The corpus, one document per item: a list or array of texts, or
            an object that yields them anew each time it is iterated (e.g.
            :class:`~sklstm.datasets.TextLines`). Read once for the
            vocabulary, then once per epoch.

        y : None
            Ignored.

        Returns
        -------
        self : LSTMLanguageModel
            The fitted model.
        """
        X = check_corpus(X, type(self).__name__)
        if iter(X) is X:
            raise TypeError(
                "fit reads the corpus more than once (the vocabulary, then each "
                "epoch), but X is an iterator that can be read only once. Pass a "
                "list, or an object whose __iter__ starts again (such as "
                "sklstm.datasets.TextLines(path)); or feed chunks to partial_fit."
            )
        return self._run(X, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one pass over ``X``, continuing from the current model.

        The first call learns the vocabulary from ``X``; later calls keep
        it (tokens outside it read as out-of-vocabulary). Feed a corpus
        larger than memory a chunk at a time; save the model in between
        (``sklstm.save``) to go on in another session.

        Parameters
        ----------
        X : iterable of str
            A chunk of the corpus (held in memory).

        y : None
            Ignored.

        Returns
        -------
        self : LSTMLanguageModel
            The model, trained on one more chunk.
        """
        X = check_corpus(X, type(self).__name__)
        if iter(X) is X:
            X = list(X)
        return self._run(X, partial=True)

    def _run(self, X, *, partial: bool):
        state_before = self.__dict__.copy()
        trainer = None
        try:
            trainer = self._prepare(X, partial=partial)
            with (
                flush_denormal(),
                thread_limit(self._threads()),
                torch.random.fork_rng(
                    devices=[trainer.device] if trainer.device.type == "cuda" else []
                ),
            ):
                torch.set_rng_state(self._torch_rng)
                if trainer.device.type == "cuda":
                    torch.cuda.manual_seed_all(self._seed + trainer.progress.step)
                try:
                    trainer.run(X)
                finally:
                    self._torch_rng = torch.get_rng_state()
        except KeyboardInterrupt:
            if trainer is None or trainer.progress.step == self._steps_before:
                self.__dict__.clear()
                self.__dict__.update(state_before)
                raise
            self._finish(trainer)
            if self.checkpoint is not None and not partial:
                self._write_checkpoint(trainer, self._torch_rng)
            self._drop_transient()
            raise KeyboardInterrupt(
                f"Training was interrupted; the language model keeps step "
                f"{self.n_steps_} and can be used"
                + (
                    ", and fit resumes from the checkpoint."
                    if self.checkpoint is not None and not partial
                    else "."
                )
            ) from None
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state_before)
            raise
        self._finish(trainer)
        self._drop_transient()
        return self

    def _drop_transient(self) -> None:
        """Forget what only the fit under way needed."""
        for name in ("_seed", "_steps_before", "_iter_before", "_torch_rng"):
            self.__dict__.pop(name, None)

    def _prepare(self, X, *, partial: bool) -> Trainer:
        """A trainer at the start of this fit (fresh, resumed or continued)."""
        device = self._device()
        seed = seed_from(self.random_state)
        acc = self.accelerator
        if acc is not None:
            from sklstm import _accelerate

            seed = _accelerate.shared_seed(acc, seed)
        continuing = partial and "module_" in self.__dict__
        payload = None
        if not partial and self.checkpoint is not None:
            if os.path.exists(self.checkpoint):
                payload = read_checkpoint(self.checkpoint)
                check_resumable(self, payload, X)
        self.history_ = list(self.__dict__.get("history_", [])) if continuing else []
        self.loss_curve_ = (
            list(self.__dict__.get("loss_curve_", [])) if continuing else []
        )
        if payload is not None:
            progress, seed = self._restore(payload, device)
        elif continuing:
            seed = (seed + 7919 * self.n_steps_) % 2**32
            progress = Progress(
                epochs=1, step=self.n_steps_, tokens=self.n_tokens_seen_, warmup=False
            )
            self._torch_rng = _seeded_rng_state(seed)
        else:
            progress = self._start(X, seed, device, partial=partial)
        self._seed = seed
        self._steps_before = progress.step
        self._iter_before = self.n_iter_ if continuing else 0
        report = None
        if self.verbose:
            report = print if acc is None else acc.print
        module, optimizer = self.module_, self.optimizer_
        if acc is not None:
            module, optimizer = acc.prepare(module, optimizer)
        trainer = Trainer(
            module,
            optimizer,
            self.sequencer_,
            {
                "bptt": self.bptt,
                "batch_size": self.batch_size,
                "lr": self.lr,
                "max_grad_norm": self.max_grad_norm,
                "chunk_size": self.chunk_size,
            },
            progress,
            seed=seed,
            history=self.history_,
            device=device if acc is None else acc.device,
            report=report,
            report_every=30.0 if self.verbose == 1 else 5.0,
            accelerator=acc,
            checkpoint=None
            if partial or self.checkpoint is None
            else self._write_checkpoint,
            checkpoint_every=self.checkpoint_every,
        )
        trainer.on_epoch_end = self._record_epoch
        return trainer

    def _threads(self) -> int | None:
        """Small networks run on one thread (the estimators' rule)."""
        layers = self.module_.forward_layers
        macs = sum(p.numel() for layer in layers for p in layer.parameters())
        return training_threads(self.batch_size * macs)

    def _device(self) -> torch.device:
        if self.accelerator is not None:
            from sklstm import _accelerate

            return _accelerate.check_accelerator(self, partial=False, warm=False)
        if isinstance(self.device, str):
            return resolve_device(self.device)
        return self.device

    def _start(self, X, seed: int, device, *, partial: bool) -> Progress:
        """Learn the vocabulary and build the network of a new fit."""
        sequencer = self._sequencer_template()
        counts: dict = {}
        n_docs = n_chars = 0
        for chunk in text_chunks(X, self.chunk_size):
            sequencer._count_tokens(chunk, counts)
            n_docs += len(chunk)
            n_chars += sum(map(len, chunk))
        if n_docs == 0:
            raise ValueError(
                f"{type(self).__name__} needs at least one document to fit, got 0."
            )
        sequencer._fit_counts(counts)
        n_tokens = sum(counts.values())
        known = sum(counts.get(tok, 0) for tok in sequencer.vocabulary_)
        self.sequencer_ = sequencer
        self.vocabulary_coverage_ = known / n_tokens if n_tokens else 0.0
        self._build(seed, device)
        if self.word_vectors is not None:
            self._start_from_vectors(seed)
        per_epoch = n_tokens + n_docs
        processes = 1 if self.accelerator is None else self.accelerator.num_processes
        chunks = max(1, math.ceil(n_chars / self.chunk_size))
        steps = math.ceil(per_epoch / self.bptt / self.batch_size / processes)
        epochs = 1 if partial else self.max_epochs
        if self.verbose:
            n_params = sum(p.numel() for p in self.module_.parameters())
            print(
                f"[{type(self).__name__}] vocabulary {len(sequencer.vocabulary_) + 2:,}"
                f" ids covering {self.vocabulary_coverage_:.1%} of {n_tokens:,} "
                f"tokens in {n_docs:,} documents; {n_params / 1e6:.1f}M parameters;"
                f" about {steps + chunks:,} steps per epoch"
            )
        self._torch_rng = _seeded_rng_state(seed)
        return Progress(
            epochs=epochs,
            total_steps=None if partial else epochs * (steps + chunks),
            tokens_per_epoch=per_epoch,
            fingerprint="" if partial else corpus_fingerprint(X),
        )

    def _build(self, seed: int, device) -> None:
        """The network (seeded) and its optimizer."""
        n_tokens = max(self.sequencer_.vocabulary_.values(), default=1) + 1
        cutoffs = softmax_cutoffs(self.softmax, n_tokens)
        self._module_kwargs = {
            "n_tokens": n_tokens,
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "cutoffs": cutoffs,
        }
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = LanguageNet(**self._module_kwargs)
        self.module_ = module.to(device)
        self.optimizer_ = self._optimizer(self.module_, device)

    def _start_from_vectors(self, seed: int) -> None:
        vectors = load_word_vectors(
            self.word_vectors, self.sequencer_, random_state=seed
        )
        if vectors.shape[1] != self.embedding_dim:
            raise ValueError(
                f"The word vectors in {os.fspath(self.word_vectors)} have "
                f"{vectors.shape[1]} dimensions, but embedding_dim="
                f"{self.embedding_dim}. Set embedding_dim={vectors.shape[1]}."
            )
        with torch.no_grad():
            weight = self.module_.embedding.weight
            weight.copy_(torch.as_tensor(vectors, dtype=weight.dtype))
            weight[0].zero_()  # the end of a document reads as zeros

    def _optimizer(self, module, device):
        fused = fused_adam_supported(torch.device(device))
        if self.accelerator is not None:
            fused = fused and fused_adam_supported(self.accelerator.device)
        return Adam(module.parameters(), lr=self.lr, fused=fused or None)

    def _record_epoch(self, trainer: Trainer) -> None:
        self.loss_curve_ += [] if trainer.epoch_loss is None else [trainer.epoch_loss]

    def _finish(self, trainer: Trainer) -> None:
        """The fitted attributes after training (finished or interrupted)."""
        acc = self.accelerator
        if acc is not None:
            acc.wait_for_everyone()
            self.module_ = acc.unwrap_model(trainer.module, keep_fp32_wrapper=False)
            self.optimizer_ = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
        self.module_.eval()
        p = trainer.progress
        self.n_iter_ = self._iter_before + p.epoch
        self.n_steps_ = p.step
        self.n_tokens_seen_ = p.tokens

    # --- checkpoints ------------------------------------------------------------
    def _write_checkpoint(self, trainer: Trainer, rng_state=None) -> None:
        write_checkpoint(self, trainer, rng_state)

    def _sequencer_template(self) -> TextSequencer:
        """An unfitted copy of the tokenizer this model fits."""
        if self.sequencer is None:
            return default_sequencer()
        return clone(self.sequencer)

    def _restore(self, payload: dict, device):
        """Set the state a checkpoint holds; return ``(progress, seed)``."""
        return restore(self, payload, device)

    # --- evaluation -------------------------------------------------------------
    def score(self, X, y=None):
        """Mean log-likelihood per token of the texts ``X`` (higher is better).

        Every token of every document and each document's end count once,
        each predicted from up to ``bptt`` tokens before it (as in training).

        Parameters
        ----------
        X : iterable of str
            Texts.

        y : None
            Ignored.

        Returns
        -------
        score : float
            The mean natural log-probability of the tokens.
        """
        check_is_fitted(self, "module_")
        X = check_corpus(X, type(self).__name__)
        with thread_limit(self._threads()):
            total, n = log_likelihood(
                self.module_,
                self.sequencer_,
                X,
                bptt=self.bptt,
                chunk_size=self.chunk_size,
            )
        if n == 0:
            raise ValueError("X holds no documents to score.")
        return total / n

    def perplexity(self, X):
        """Perplexity of the texts ``X``: ``exp(-score(X))`` (lower is better).

        Parameters
        ----------
        X : iterable of str
            Texts.

        Returns
        -------
        perplexity : float
        """
        return float(math.exp(-self.score(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags


def _seeded_rng_state(seed: int) -> torch.Tensor:
    """The CPU generator state ``torch.manual_seed(seed)`` sets (nothing else changes)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.get_rng_state()
