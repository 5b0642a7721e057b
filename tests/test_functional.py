"""Pure functions of the Keras model's arithmetic that parity alone would not pin down."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.model import functional


@pytest.mark.parametrize(
    "slices,tokens,expected",
    [
        (16, 3136, 1),  # Swin stage 1 at 32x224x224: one frame is enough
        (16, 784, 4),  # stage 2: four frames of 28x28
        (16, 196, 16),  # stage 3: the whole clip
        (16, 49, 16),  # stage 4: the whole clip is fewer than MLP_SLICE_TOKENS
        (64, 196, 16),  # batch 4, stage 3: four steps of 16 frames
        (15, 784, 3),  # the largest divisor not above the 4 frames wanted
        (13, 784, 1),  # a prime count of slices falls back to one at a time
        (13, 196, 13),
        (0, 196, 1),  # an empty batch
    ],
)
def test_mlp_slice_group_is_the_largest_divisor_with_enough_tokens(slices, tokens, expected):
    group = int(functional.mlp_slice_group(slices, tokens))
    assert group == expected
    assert slices % group == 0


def test_mlp_slice_group_traces_with_dynamic_shapes():
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None, 8])])
    def group_of(x):
        shape = tf.shape(x)
        return functional.mlp_slice_group(shape[0] * shape[1], shape[2] * shape[3])

    assert int(group_of(tf.zeros([2, 6, 15, 21, 8]))) == 6  # 12 slices of 315 tokens: 10 wanted
    assert int(group_of(tf.zeros([1, 16, 56, 56, 8]))) == 1


def test_grouped_mlp_equals_the_mlp_of_each_token():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((2, 6, 5, 7, 8)).astype(np.float32))
    c, hidden = 8, 32
    params = functional.BlockParams(
        norm1_gamma=None,
        norm1_beta=None,
        attn=None,
        norm2_gamma=tf.constant(rng.standard_normal(c).astype(np.float32)),
        norm2_beta=tf.constant(rng.standard_normal(c).astype(np.float32)),
        fc1_kernel=tf.constant(rng.standard_normal((c, hidden)).astype(np.float32)),
        fc1_bias=tf.constant(rng.standard_normal(hidden).astype(np.float32)),
        fc2_kernel=tf.constant(rng.standard_normal((hidden, c)).astype(np.float32)),
        fc2_bias=tf.constant(rng.standard_normal(c).astype(np.float32)),
    )
    grouped = functional.mlp_of_slices(x, params)
    tokens = tf.reshape(x, [-1, c])
    expected = tf.reshape(functional.mlp(tokens, params), x.shape)
    np.testing.assert_allclose(grouped.numpy(), expected.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "windows,scores,expected",
    [
        (128, 3 * 392 * 392, 4),  # Swin-T stage 1 at 32x224x224: 4 windows of 3 heads fit 2M scores
        (128, 4 * 392 * 392, 2),  # Swin-B stage 1: 3 would fit, 2 divides 128
        (8, 12 * 392 * 392, 1),  # Swin-T stage 3: one window is already 1.8M scores
        (8, 32 * 392 * 392, 1),  # Swin-L stage 4: over the budget alone, still one per step
        (2 * 128, 3 * 392 * 392, 4),  # batch 2: windows of both clips are consecutive steps
        (15, 3 * 64, 15),  # small windows: all in one step
        (0, 3 * 64, 1),  # an empty batch
    ],
)
def test_window_group_keeps_a_steps_scores_within_the_budget(windows, scores, expected):
    group = int(functional.window_group(windows, scores))
    assert group == expected
    assert windows % group == 0
    assert group == 1 or group * scores <= functional.ATTENTION_STEP_SCORES


def test_head_major_qkv_splits_heads_as_the_official_reshape():
    rng = np.random.default_rng(0)
    dim, heads, tokens = 12, 3, 5
    x = rng.standard_normal((tokens, dim)).astype(np.float32)
    kernel = rng.standard_normal((dim, 3 * dim)).astype(np.float32)
    bias = rng.standard_normal(3 * dim).astype(np.float32)
    # Official: (x @ W + b).reshape(N, 3, nH, hd).permute(2, 0, 3, 1... ) -> q, k, v each (nH, N, hd).
    official = (x @ kernel + bias).reshape(tokens, 3, heads, dim // heads).transpose(1, 2, 0, 3)
    heads_kernel, heads_bias = functional.head_major_qkv(tf.constant(kernel), tf.constant(bias), heads)
    ours = tf.reshape(tf.matmul(x[None], heads_kernel) + heads_bias, [3, heads, tokens, dim // heads])
    np.testing.assert_allclose(ours.numpy(), official, rtol=0, atol=1e-5)
    assert functional.head_major_qkv(tf.constant(kernel), None, heads)[1] is None


def _reference_window_attention(windows, index, mask, params, num_heads):
    """The official per-window arithmetic in NumPy (float64)."""
    b_, n, c = windows.shape
    hd = c // num_heads
    qkv = windows @ params.qkv_kernel + params.qkv_bias
    q, k, v = qkv.reshape(b_, n, 3, num_heads, hd).transpose(2, 0, 3, 1, 4)
    attn = (q * hd**-0.5) @ k.transpose(0, 1, 3, 2)
    attn = attn + params.relative_position_bias_table[index].transpose(2, 0, 1)[None]
    if mask is not None:
        attn = attn.reshape(-1, mask.shape[0], num_heads, n, n) + mask[None, :, None]
        attn = attn.reshape(b_, num_heads, n, n)
    attn = np.exp(attn - attn.max(-1, keepdims=True))
    attn /= attn.sum(-1, keepdims=True)
    out = (attn @ v).transpose(0, 2, 1, 3).reshape(b_, n, c)
    return out @ params.proj_kernel + params.proj_bias


@pytest.mark.parametrize("masked", [False, True])
def test_window_attention_in_steps_of_several_windows_equals_the_official_arithmetic(masked, monkeypatch):
    # 2 clips x 6 windows of 6 heads x 8 x 8 scores: a budget of 3 windows per step gives steps of 3
    # windows (a divisor of one clip's 6, so that a step's mask is a slice of the mask).
    monkeypatch.setattr(functional, "ATTENTION_STEP_SCORES", 3 * 6 * 8 * 8)
    rng = np.random.default_rng(0)
    nw, n, c, heads = 6, 8, 24, 6
    windows = rng.standard_normal((2 * nw, n, c))
    index = rng.integers(0, 15, (n, n))
    mask = np.where(rng.random((nw, n, n)) < 0.3, -100.0, 0.0) if masked else None
    params = functional.AttentionParams(
        relative_position_bias_table=rng.standard_normal((15, heads)),
        qkv_kernel=rng.standard_normal((c, 3 * c)) * 0.3,
        qkv_bias=rng.standard_normal(3 * c),
        proj_kernel=rng.standard_normal((c, c)) * 0.3,
        proj_bias=rng.standard_normal(c),
    )
    assert (
        int(functional.window_group(2 * nw, heads * n * n))
        == int(functional.window_group(nw, heads * n * n))
        == 3
    )
    expected = _reference_window_attention(windows, index, mask, params, heads)
    as32 = functional.AttentionParams(*(tf.constant(p, tf.float32) for p in params))
    ours = functional.window_attention(
        tf.constant(windows, tf.float32),
        tf.constant(index, tf.int32),
        None if mask is None else tf.constant(mask, tf.float32),
        as32,
        heads,
    )
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=2e-5)


def test_shifted_window_steps_slice_the_mask_instead_of_gathering_it(monkeypatch):
    """A gather of each step's mask copied g x N x N floats per step (~115 MB per Swin-T forward)."""
    monkeypatch.setattr(functional, "ATTENTION_STEP_SCORES", 2 * 2 * 8 * 8)
    rng = np.random.default_rng(1)
    nw, n, c, heads = 4, 8, 16, 2
    params = functional.AttentionParams(
        *(
            tf.constant((rng.standard_normal(s) * 0.3).astype(np.float32))
            for s in [(15, heads), (c, 3 * c), (3 * c,), (c, c), (c,)]
        )
    )
    index = tf.constant(rng.integers(0, 15, (n, n)), tf.int32)
    mask = tf.constant(np.where(rng.random((nw, n, n)) < 0.3, -100.0, 0.0).astype(np.float32))
    attend = tf.function(lambda w: functional.window_attention(w, index, mask, params, heads))
    graph = attend.get_concrete_function(tf.TensorSpec([None, n, c], tf.float32)).graph.as_graph_def()
    loop_ops = {node.op for f in graph.library.function for node in f.node_def}
    assert "StridedSlice" in loop_ops and not {"GatherV2", "Gather", "GatherNd"} & loop_ops
    windows = rng.standard_normal((3 * nw, n, c))
    as64 = functional.AttentionParams(*(p.numpy().astype(np.float64) for p in params))
    expected = _reference_window_attention(windows, index.numpy(), mask.numpy(), as64, heads)
    np.testing.assert_allclose(attend(tf.constant(windows, tf.float32)).numpy(), expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("qkv_bias", [True, False])
def test_qkv_bias_is_added_by_the_projection_matmul(qkv_bias):
    """The qkv bias rides in the matmul as the kernel's last row against a column of ones: an add
    after the matmul was a pass over the 3C-wide q, k and v of every window (Swin-B's first stage 1.02x).
    The window loop's only float add is then the scores' bias, which oneDNN fuses into the score
    matmul; the numbers are the official ones (the test above and the parity tests)."""
    rng = np.random.default_rng(2)
    n, c, heads = 8, 16, 2
    params = functional.AttentionParams(
        *(
            tf.constant((rng.standard_normal(s) * 0.3).astype(np.float32))
            for s in [(15, heads), (c, 3 * c), (3 * c,), (c, c), (c,)]
        )
    )
    if not qkv_bias:  # qkv_bias=False in the config: no bias, no column of ones
        params = params._replace(qkv_bias=None)
    index = tf.constant(rng.integers(0, 15, (n, n)), tf.int32)
    attend = tf.function(lambda w: functional.window_attention(w, index, None, params, heads))
    graph = attend.get_concrete_function(tf.TensorSpec([None, n, c], tf.float32)).graph.as_graph_def()
    float_adds = [
        node.name
        for f in graph.library.function
        for node in f.node_def
        if node.op in ("Add", "AddV2") and node.attr["T"].type == tf.float32.as_datatype_enum
    ]
    assert len(float_adds) == 1, float_adds
    windows = rng.standard_normal((4, n, c))
    as64 = functional.AttentionParams(
        *(np.zeros(3 * c) if p is None else p.numpy().astype(np.float64) for p in params)
    )
    expected = _reference_window_attention(windows, index.numpy(), None, as64, heads)
    np.testing.assert_allclose(attend(tf.constant(windows, tf.float32)).numpy(), expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("runs", [1, 2])
def test_score_matmul_and_bias_run_as_one_onednn_kernel(runs):
    """The layout of the scores is chosen for oneDNN's fused batch matmul + add; losing the fusion
    costs a pass over every score matrix (~10% of a Swin-T forward), which parity cannot see. Also
    when each step slices its bias out of one per run of windows (the half windows in T)."""
    rng = np.random.default_rng(0)
    n, c, heads = 16, 32, 2
    params = functional.AttentionParams(
        *(
            tf.constant(rng.standard_normal(s).astype(np.float32))
            for s in [(15, heads), (c, 3 * c), (3 * c,), (c, c), (c,)]
        )
    )
    index = tf.constant(rng.integers(0, 15, (runs, n, n) if runs > 1 else (n, n)), tf.int32)
    attend = tf.function(lambda w: functional.window_attention(w, index, None, params, heads))
    ops = _profiled_ops(attend, tf.constant(rng.standard_normal((4, n, c)).astype(np.float32)))
    if not any(op.startswith("_Mkl") for op in ops):
        pytest.skip("TensorFlow runs without oneDNN here (no _Mkl kernels)")
    assert "_MklFusedBatchMatMulV2" in ops, sorted(o for o in ops if o.startswith("_Mkl"))


def _profiled_ops(fn, *args) -> set[str]:
    """Op types of the kernels one call of ``fn`` ran (after a warm-up call)."""
    import tempfile
    from pathlib import Path

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    fn(*args)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        fn(*args)
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(next(Path(logdir).rglob("*.xplane.pb")).read_bytes())
    return {m.name.rsplit(":", 1)[-1] for p in space.planes for m in p.event_metadata.values()}


@pytest.mark.parametrize("offset", [0.0, 30.0])
def test_layer_norm_matches_float64_with_known_and_unknown_token_counts(offset):
    rng = np.random.default_rng(0)
    x = (offset + rng.standard_normal((2, 3, 5, 7, 48)) * 2).astype(np.float32)
    gamma, beta = rng.standard_normal(48).astype(np.float32), rng.standard_normal(48).astype(np.float32)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(-1, keepdims=True), x64.var(-1, keepdims=True)
    expected = (x64 - mean) / np.sqrt(var + functional.LAYER_NORM_EPSILON) * gamma + beta

    def norm(t):
        return functional.layer_norm(t, gamma, beta)

    known = tf.function(norm)  # separate mean / variance ops
    unknown = tf.function(norm, input_signature=[tf.TensorSpec([None, None, None, None, 48])])
    for fn in (norm, known, unknown):
        got = fn(tf.constant(x)).numpy()
        assert got.shape == x.shape
        # float32 holds x to ~2e-6 at |x| ~ 30: the bound is that representation error, not the method.
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 if offset else 2e-6)
    assert functional.layer_norm(tf.constant(x), gamma, beta, out_dtype=tf.bfloat16).dtype == tf.bfloat16


def test_layer_norm_of_an_unknown_token_count_runs_as_one_onednn_kernel():
    """Exports trace for any clip size: there LayerNorm's FusedBatchNormV3 form becomes one oneDNN
    kernel (Swin-T export 0.95x in float32, 0.91x in bfloat16); parity cannot see losing it. A bfloat16
    model casts its patch embedding and PatchMerging outputs up to float32 right before a LayerNorm;
    Grappler must not move that cast between the reshapes and FusedBatchNormV3, where it hides the
    pattern of the rewrite (4 of bfloat16 Swin-T's 29 LayerNorms ran unfused)."""
    rng = np.random.default_rng(0)
    gamma, beta = rng.standard_normal(32).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    values = rng.standard_normal((4, 6, 32))
    for in_dtype, out_dtype in itertools.product((tf.float32, tf.bfloat16), repeat=2):
        norm = tf.function(
            lambda t, d=out_dtype: functional.layer_norm(tf.cast(t, tf.float32), gamma, beta, out_dtype=d),
            input_signature=[tf.TensorSpec([None, None, 32], in_dtype)],
        )
        ops = _profiled_ops(norm, tf.constant(values, in_dtype))
        if not any(op.startswith("_Mkl") for op in ops):
            pytest.skip("TensorFlow runs without oneDNN here (no _Mkl kernels)")
        unfused = {op for op in ops if op == "Mean" or "BatchNorm" in op}
        assert "_MklLayerNorm" in ops and not unfused, (in_dtype, out_dtype, sorted(ops))


def test_layer_norm_gradients_agree_for_known_and_unknown_token_counts():
    """Fine-tuning an export differentiates the FusedBatchNormV3 form; it must give the gradients of
    the mean / variance form."""
    rng = np.random.default_rng(1)
    x = tf.constant((rng.standard_normal((2, 7, 40)) * 3 + 1).astype(np.float32))
    gamma, beta, weights = (
        tf.constant(rng.standard_normal(s).astype(np.float32)) for s in (40, 40, (2, 7, 40))
    )

    def grads(t, g, b):
        with tf.GradientTape() as tape:
            tape.watch([t, g, b])
            loss = tf.reduce_sum(functional.layer_norm(t, g, b) * weights)
        return tape.gradient(loss, [t, g, b])

    unknown = tf.function(
        grads, input_signature=[tf.TensorSpec([None, None, 40]), *[tf.TensorSpec([40])] * 2]
    )
    for ours, reference in zip(unknown(x, gamma, beta), tf.function(grads)(x, gamma, beta), strict=True):
        np.testing.assert_allclose(
            ours.numpy(), reference.numpy(), rtol=0, atol=1e-5 * np.abs(reference).max()
        )


def test_blocks_are_called_once_per_stage_function_not_inlined():
    """The blocks of a stage call one shared function per kind (shifted, unshifted) that keeps
    ``_noinline``, so Grappler optimises it once instead of once per block (a fresh Swin-B's first
    call 1-3 s shorter)."""
    from tf_videoswin import Recognizer3D, VideoSwinConfig

    config = VideoSwinConfig(embed_dim=32, depths=(2, 4, 2, 2), num_heads=(1, 2, 4, 8))
    graph = Recognizer3D(config)._graph_call(False).get_concrete_function().graph.as_graph_def()
    blocks = {f.signature.name: f for f in graph.library.function if "swin_block" in f.signature.name}
    assert len(blocks) == 8  # four stages, shifted and unshifted
    assert all(f.attr["_noinline"].b for f in blocks.values())
    calls = [
        n.attr["f"].func.name
        for n in graph.node
        if n.op in ("PartitionedCall", "StatefulPartitionedCall") and n.attr["f"].func.name in blocks
    ]
    assert len(calls) == sum(config.depths) and set(calls) == set(blocks)
