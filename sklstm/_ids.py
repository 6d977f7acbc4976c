"""The token-id convention shared by every layer: which ids are special.

Token-id input is a padded integer array. Two ids are reserved, whatever
produced the ids (``TextSequencer`` or the user):

* ``PAD_ID`` (0) marks padding at the end of a shorter sequence; a row's length
  is the position of its last non-zero id + 1.
* ``OOV_ID`` (1) stands for any token outside the vocabulary. Word dropout
  replaces real tokens by it during training, and ids that ``fit`` never saw
  read as it at predict time.

Real tokens are numbered from ``FIRST_TOKEN_ID`` (2) on. Pure constants: this
module imports nothing, so every layer may import it.
"""

__all__ = ["PAD_ID", "OOV_ID", "FIRST_TOKEN_ID", "PAD_TOKEN", "OOV_TOKEN"]

#: id of padding (the end of every shorter sequence)
PAD_ID = 0
#: id of tokens outside the vocabulary
OOV_ID = 1
#: the first id of a real token
FIRST_TOKEN_ID = OOV_ID + 1
#: how padding and out-of-vocabulary ids read in ``get_vocabulary`` and
#: ``inverse_transform``
PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
