"""Fine-tuning Video Swin on new data with the upstream recipe of each variant.

- :mod:`.recipe`: the official configs' optimizer, schedule, accumulation, loss and pipeline per variant;
- :mod:`.schedule`: mmcv's cosine-with-linear-warmup learning rate;
- :mod:`.param_groups`: mmcv's per-parameter learning-rate / weight-decay multipliers;
- :mod:`.optimizer`: AdamW per parameter group with gradient accumulation;
- :mod:`.data`: seeded epoch order and per-sample augmentation, threaded decoding;
- :mod:`.loop`: the loop, checkpoints and resume; :mod:`.checkpoint`: the checkpoint files;
- :mod:`.model`: the starting model; :mod:`.export`: the export of the result;
- :mod:`.finetune`: all of it as one call, :func:`~.finetune.finetune` (data, model, memory plan, resume,
  loop, export), from Python with keyword arguments.

The app ``python -m tf_videoswin.finetune`` (:mod:`tf_videoswin.cli.finetune`) parses its flags and calls
:func:`~.finetune.finetune`.
"""
