"""LSTM with parametric bias (LSTM-PB) over 40-point facial-landmark sequences.

Huynh & Kim, "Discrimination between genuine versus fake emotion using LSTM with parametric bias
and facial landmarks", ICCV workshops 2017. The network predicts the next landmark frame; a small
parametric-bias vector ``p`` (PB) that is shared by every step of a sequence steers the prediction.
Training "boils" each (expression, genuine/fake) class down to one PB; recognition finds the PB that
best explains an observed sequence with the weights frozen; a classifier on the PB says genuine or
fake.

Per step ``t`` (B sequences, H hidden units):

* inputs: landmarks ``x_t`` (B, 80), PB ``p`` (B, 64), context ``c_{t-1}`` (B, 64) fed back from the
  previous step (Jordan type; ``c_{-1} = 0``);
* core: a 2D Grid LSTM (Kalchbrenner et al.) along time and depth with ``layers`` blocks. Block
  ``l`` holds a time LSTM, whose state ``(h^l_t, m^l_t)`` runs along time, and a depth LSTM, whose
  state ``(h^l_d, m^l_d)`` runs up the blocks. The context enters the depth dimension through a
  linear map: ``h^0_d = W_c c_{t-1}``, ``m^0_d = 0``. Block ``l`` computes::

      h^l_t, m^l_t = LSTM_time^l(input=h^{l-1}_d, state=(h^l_{t-1}, m^l_{t-1}))
      h^l_d, m^l_d = LSTM_depth (input=h^l_t,     state=(h^{l-1}_d, m^{l-1}_d))

  with the depth LSTM's weights tied across blocks (``tie_depth_weights``);
* read-out: ``hidden = ReLU(W_x x_t) + act(W_p p) + ReLU(h^L_d)``,
  ``x̂_{t+1} = tanh(W_o hidden)`` (B, 80), ``c_t = tanh(W_k hidden)`` (B, 64). ``act`` is a leaky
  ReLU (slope 0.1) by default: with the paper's plain ReLU (``pb_activation="relu"``, still how
  weights stored without that field load) a class PB that falls where no unit of ``W_p p`` is
  positive stops steering anything, for good.

Errors and the PB rule (paper eq. 1–2). The prediction error of a sequence is
``E = Σ_t ½‖x̂_{t+1} − x_{t+1}‖²`` over its ``T − 1`` predicted steps. Each step sees its own copy
``p_t`` of the PB; the update is the step-averaged back-propagated error::

    δp = lr_pb · (1/(T−1)) · Σ_t ∂E/∂p_t,        p ← p − δp

Weights learn from the same step-averaged error by back-propagation through time over whole
sequences. Landmarks enter through a per-coordinate normalization ``x_n = (x − mean) ⊙ scale``
fitted on the training data and stored with the weights; inputs, predictions and errors all live
in that space (raw landmark coordinates differ by about 0.06 across a dataset and by 0.01 from
frame to frame, too little for SGD to move the weights).

Steps and closed loop (config fields, all off in the paper's form). A step may be the mean of
``frame_block`` frames, and the sequence may be taken relative to its first step
(:func:`landmark_steps`): the network then sees how each landmark moves away from the subject's
neutral face, not the face's shape. With ``closed_loop_after = k`` only the first k steps read the
observed input; later steps read the previous prediction, and errors count from step k − 1. Under
teacher forcing the best guess of the next frame is almost the current one, and learning lets
the PBs fall silent; in closed loop the PB must carry the course of the whole expression.

Modules: :mod:`~engines.lstmpb.config` (the config and the steps), :mod:`~engines.lstmpb.model`
(the network, the PB gradient by autograd, recognition and generation),
:mod:`~engines.lstmpb.recognition` (the NumPy PB-gradient engine used live) and
:mod:`~engines.lstmpb.io` (weights, class PBs and the bundle section). The learning-mode update
of weights and class PBs belongs to training, not here.
"""
from engines.lstmpb.config import PB_ACTIVATIONS, REFERENCES, LSTMPBConfig, landmark_steps
from engines.lstmpb.io import (NETWORKS, SECTION, class_key, expression_models, expression_networks, for_expression,
                               has_pooled_network, load_class_pbs, load_lstmpb, load_lstmpb_weights,
                               lstmpb_config_from_bundle, read_class_pbs, save_class_pbs, save_lstmpb)
from engines.lstmpb.model import (LSTMPB, count_parameters, generate, pb_gradient, recognize, sequence_errors,
                                  step_mask)
from engines.lstmpb.recognition import NumpyPBGradient

__all__ = [
    "LSTMPB", "LSTMPBConfig", "NETWORKS", "NumpyPBGradient", "PB_ACTIVATIONS", "REFERENCES", "SECTION", "class_key",
    "count_parameters", "expression_models", "expression_networks", "for_expression", "generate",
    "has_pooled_network", "landmark_steps", "load_class_pbs", "load_lstmpb", "load_lstmpb_weights",
    "lstmpb_config_from_bundle", "pb_gradient", "read_class_pbs", "recognize", "save_class_pbs", "save_lstmpb",
    "sequence_errors", "step_mask",
]
