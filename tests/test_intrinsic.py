"""Intrinsic rewards: RND, episodic novelty, milestone posteriors, r_total and resume."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from daddy.game.milestones import DEFAULT_MILESTONES
from daddy.game.ram import GameState
from daddy.intrinsic.config import IntrinsicConfig
from daddy.intrinsic.novelty import EpisodicNovelty
from daddy.intrinsic.posteriors import MilestonePosteriors, beta_cdf, beta_mean, beta_ppf
from daddy.intrinsic.rewards import IntrinsicRewards, StepRewards
from daddy.intrinsic.rnd import RND

M = len(DEFAULT_MILESTONES)
ALL = (1 << M) - 1


def game_state(
    map_id: int, x: int, y: int, *, text_box: bool = False, in_battle: int = 0
) -> GameState:
    return GameState(
        map_id=map_id, x=x, y=y, badges=0, party_count=1, levels=(5, 0, 0, 0, 0, 0), hp=20,
        max_hp=20, events=bytes(320), event_count=0, in_battle=in_battle, money=0, dex_owned=0,
        dex_seen=0, bag_count=0, in_control=not text_box, text_box=text_box,
    )  # fmt: skip


def screens(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 4, (n, 72, 80), dtype=np.uint8)


def weights_only_round_trip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


# --- Beta CDF ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x,a,b,expected",
    [
        (0.3, 1.0, 1.0, 0.3),
        (0.6, 3.0, 1.0, 0.6**3),
        (0.6, 1.0, 4.0, 1 - 0.4**4),
        (0.5, 7.5, 7.5, 0.5),
        (0.0, 2.0, 3.0, 0.0),
        (1.0, 2.0, 3.0, 1.0),
    ],
)
def test_beta_cdf_matches_closed_forms(x, a, b, expected):
    assert beta_cdf(x, a, b) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("a,b", [(3.5, 7.2), (40.0, 12.0), (0.7, 2.5)])
def test_beta_cdf_matches_numerical_integration(a, b):
    xs = np.linspace(0, 1, 400_001)[1:-1]
    log_pdf = (a - 1) * np.log(xs) + (b - 1) * np.log1p(-xs)
    log_pdf += math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    cdf = np.cumsum(np.exp(log_pdf)) * (xs[1] - xs[0])
    for x in (0.2, 0.5, 0.8):
        assert beta_cdf(x, a, b) == pytest.approx(cdf[np.searchsorted(xs, x)], abs=2e-3)


@pytest.mark.parametrize("a,b", [(4.0, 9.0), (0.1, 0.1), (1.0, 2e5), (3e6, 1e6)])
@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_beta_ppf_inverts_cdf(q, a, b):
    assert beta_cdf(beta_ppf(q, a, b), a, b) == pytest.approx(q, abs=1e-8)


@pytest.mark.parametrize("a,b", [(1.0, 1.0), (3.0, 1.0), (0.5, 1.0), (1.0, 7.0), (1.0, 2e5)])
@pytest.mark.parametrize("q", [0.05, 0.5, 0.95])
def test_beta_ppf_matches_closed_forms(q, a, b):
    exact = q ** (1 / a) if b == 1.0 else 1 - (1 - q) ** (1 / b)
    assert beta_ppf(q, a, b) == pytest.approx(exact, rel=1e-8)


def test_beta_functions_work_elementwise_and_give_nan_for_bad_parameters():
    a = np.array([[4.0, 0.0], [0.7, 12.0]])
    b = np.array([[9.0, 1.0], [-1.0, 3.0]])
    bad = np.array([[False, True], [True, False]])
    for name, got, one in [
        ("ppf", beta_ppf(0.9, a, b), lambda x, y: beta_ppf(0.9, x, y)),
        ("cdf", beta_cdf(0.6, a, b), lambda x, y: beta_cdf(0.6, x, y)),
        ("mean", beta_mean(a, b), beta_mean),
    ]:
        assert got.shape == (2, 2) and np.array_equal(np.isnan(got), bad), name
        assert got[0, 0] == one(4.0, 9.0) and got[1, 1] == one(12.0, 3.0), name
    assert isinstance(beta_ppf(0.5, 2.0, 3.0), float)
    assert beta_ppf(0.0, 2.0, 3.0) == 0.0 and beta_ppf(1.0, 2.0, 3.0) == 1.0
    with pytest.raises(ValueError, match=r"probability in \[0, 1\]"):
        beta_ppf(1.5, 2.0, 3.0)


# --- RND -----------------------------------------------------------------------------------
def test_rnd_error_falls_on_repeated_screen_and_stays_high_on_new_ones():
    rng = np.random.default_rng(0)
    rnd = RND(IntrinsicConfig(rnd_lr=1e-3))
    rnd.observe(screens(rng, 128))  # screen statistics from a "random agent"
    seen, new = screens(rng, 1), screens(rng, 8)
    seen_before, new_before = rnd.errors(seen)[0], rnd.errors(new).mean()
    losses = [rnd.train_step(np.repeat(seen, 8, axis=0)) for _ in range(40)]
    seen_after, new_after = rnd.errors(seen)[0], rnd.errors(new).mean()
    assert losses[-1] < 0.05 * losses[0]
    assert seen_after < 0.05 * seen_before
    assert new_after > 0.2 * new_before
    assert new_after > 20 * seen_after
    rewards = rnd.reward({"screen": np.concatenate([seen, new])})
    assert rewards.shape == (9,) and rewards.dtype == np.float32
    assert rewards[0] < rewards[1:].min()


def test_rnd_trains_on_replayed_sequences_of_screens():
    rng = np.random.default_rng(1)
    rnd = RND(IntrinsicConfig())
    loss = rnd.train_step(screens(rng, 6).reshape(2, 3, 72, 80))  # (batch, time, H, W)
    assert np.isfinite(loss) and loss > 0


def test_rnd_rejects_wrongly_shaped_screens():
    with pytest.raises(ValueError, match=r"\(\.\.\., 72, 80\)"):
        RND(IntrinsicConfig()).reward({"screen": np.zeros((4, 144, 160), np.uint8)})


# --- episodic novelty ----------------------------------------------------------------------
def test_count_novelty_decays_as_inverse_sqrt_of_visits():
    nov = EpisodicNovelty(num_envs=2)
    got = [nov.reward([0], [(1, 5, 6)])[0] for _ in range(9)]
    np.testing.assert_allclose(got, [1 / math.sqrt(n) for n in range(1, 10)], rtol=1e-6)


def test_count_novelty_is_per_env_and_resets_per_episode():
    nov = EpisodicNovelty(num_envs=2)
    cell = (3, 10, 4)
    for _ in range(3):
        nov.reward([0], [cell])
    np.testing.assert_allclose(nov.reward([0, 1], [cell, cell]), [0.5, 1.0])
    assert nov.reward([0], [(3, 10, 5)])[0] == 1.0  # a neighbouring cell is new
    nov.reset(0)
    np.testing.assert_allclose(nov.reward([0, 1], [cell, cell]), [1.0, 1 / math.sqrt(2)])


def test_knn_novelty_falls_on_revisits_and_resets_per_episode():
    nov = EpisodicNovelty(num_envs=1, cfg=IntrinsicConfig(novelty="knn", knn_k=3))
    rng = np.random.default_rng(2)
    for e in rng.normal(size=(20, 16)).astype(np.float32):  # spread-out memory
        nov.reward([0], embeddings=e[None])
    same = np.ones((1, 16), np.float32) * 5
    first = nov.reward([0], embeddings=same)[0]
    repeats = [nov.reward([0], embeddings=same)[0] for _ in range(3)]
    assert first > 0.9
    assert repeats == sorted(repeats, reverse=True) and repeats[-1] < 0.6 * first
    nov.reset(0)
    assert nov.reward([0], embeddings=same)[0] == 1.0


def test_novelty_rejects_unknown_env_id():
    with pytest.raises(IndexError, match="outside 0..1"):
        EpisodicNovelty(num_envs=2).reward([2], [(0, 0, 0)])


# --- milestone posteriors ------------------------------------------------------------------
def test_posterior_updates_match_beta_conjugate_formulas():
    cfg = IntrinsicConfig(prior_alpha=2.0, prior_beta=0.5, decay=None)
    post = MilestonePosteriors(cfg=cfg)
    rng = np.random.default_rng(3)
    eligible = rng.random((50, M)) < 0.7
    reached = rng.random((50, M)) < 0.4
    for e, r in zip(eligible, reached):
        post.update(MilestonePosteriors._to_mask(e), MilestonePosteriors._to_mask(r))
    successes = (eligible & reached).sum(0)
    failures = (eligible & ~reached).sum(0)
    np.testing.assert_allclose(post.alpha, 2.0 + successes)
    np.testing.assert_allclose(post.beta, 0.5 + failures)
    means = post.means()
    assert means["Boulder"] == pytest.approx(
        (2.0 + successes[6]) / (2.5 + successes[6] + failures[6])
    )


def test_posterior_decay_fades_old_evidence_toward_the_prior():
    g = 0.9
    post = MilestonePosteriors(cfg=IntrinsicConfig(decay=g))
    outcomes = [1, 1, 0, 1, 0, 0, 0]
    for hit in outcomes:
        post.update(0b1, hit)
    n = len(outcomes)
    expected_alpha = 1 + sum(s * g ** (n - 1 - k) for k, s in enumerate(outcomes))
    expected_beta = 1 + sum((1 - s) * g ** (n - 1 - k) for k, s in enumerate(outcomes))
    assert post.alpha[0] == pytest.approx(expected_alpha)
    assert post.beta[0] == pytest.approx(expected_beta)
    assert post.alpha[1] == 1 and post.beta[1] == 1  # never eligible: untouched


def test_credible_interval_brackets_the_mean():
    post = MilestonePosteriors(cfg=IntrinsicConfig(decay=None))
    for k in range(30):
        post.update(ALL, ALL if k % 3 else 0)
    lo, hi = post.credible_interval(0.9)
    mean = post.mean_array()
    assert np.all(lo < mean) and np.all(mean < hi) and np.all(hi - lo < 0.4)


def run_episodes(post: MilestonePosteriors, rates: list[float], rng: np.random.Generator) -> int:
    """Episodes where milestone 0 succeeds with the given rate each; returns alarms raised."""
    alarms = 0
    for rate in rates:
        post.update(0b1, int(rng.random() < rate))
        alarms += post.check_alarms() & 1
    return alarms


def test_drop_in_success_rate_raises_alarm():
    post = MilestonePosteriors()
    rng = np.random.default_rng(4)
    assert run_episodes(post, [0.8] * 300, rng) == 0
    assert run_episodes(post, [0.3] * 100, rng) == 1
    assert post.alarm_count == 1 and post.alarmed_mask() == 0b1
    assert "Starter" in post.describe_alarm(0b1)
    assert post.summary().startswith("Starter: ") and post.summary().split(" | ")[0].endswith("!")


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_steady_success_rate_raises_no_alarm(rate):
    post = MilestonePosteriors()
    assert run_episodes(post, [rate] * 1500, np.random.default_rng(5)) == 0
    assert post.alarm_count == 0


def test_shaping_pays_more_for_rarer_milestones():
    post = MilestonePosteriors(cfg=IntrinsicConfig(bayes_scale=2.0))
    for k in range(40):
        post.update(0b11, 0b01 if k % 10 else 0b11)  # milestone 0 always, milestone 1 rarely
    mean = post.mean_array()
    assert post.shaping(0b01) == pytest.approx(2.0 * (1 - mean[0]))
    assert post.shaping(0b10) > 5 * post.shaping(0b01)
    assert post.shaping(0b11) == pytest.approx(post.shaping(0b01) + post.shaping(0b10))
    assert post.shaping(0) == 0.0


def test_pressure_is_high_for_low_and_alarmed_milestones_and_low_for_reliable_ones():
    post = MilestonePosteriors()
    rng = np.random.default_rng(6)
    for _ in range(300):
        post.update(0b111, 0b011 if rng.random() < 0.9 else 0b001)
    for _ in range(80):
        post.update(0b111, 0b001)  # milestone 1 collapses
    post.check_alarms()
    p = post.pressure()
    names = post.names
    assert post.alarmed_mask() & 0b10
    assert p[names[1]] > p[names[2]] > p[names[0]]
    assert p[names[0]] < 0.2


def mask_of(*names: str) -> int:
    return sum(1 << [m.name for m in DEFAULT_MILESTONES].index(n) for n in names)


def test_summary_shows_the_furthest_reached_and_the_next_in_story_order():
    post = MilestonePosteriors()
    assert post.summary(k=2) == "next: Pallet: 0.50, Starter: 0.50"  # nothing reached yet
    # bit order: got_starter 0, route_1 1, viridian_city 2, ..., battled_rival_lab 15,
    # got_oaks_parcel 16; the story goes starter, rival battle, Route 1, Viridian, parcel
    post.update(ALL, mask_of("got_starter", "battled_rival_lab", "route_1"))
    assert post.summary(k=3) == "Route1: 0.67 | next: Viridian: 0.33, Parcel: 0.33, OakParcel: 0.33"
    post.update(ALL, ALL)
    assert post.summary() == "Champion: 0.50 | all reached"


def test_a_checkpoint_of_the_first_14_milestones_loads_and_the_rest_start_at_the_prior():
    cfg = IntrinsicConfig()
    old = MilestonePosteriors(DEFAULT_MILESTONES[:14], cfg)
    for k in range(60):
        old.update((1 << 14) - 1, 0b111 if k % 2 else 0b1)
    saved = weights_only_round_trip({"posteriors": old.state_dict()})["posteriors"]
    new = MilestonePosteriors(DEFAULT_MILESTONES, cfg)
    new.load_state_dict(saved)
    np.testing.assert_array_equal(new.alpha[:14], old.alpha)
    np.testing.assert_array_equal(new.beta[:14], old.beta)
    np.testing.assert_array_equal(new.reference[:14], old.reference)
    assert (new.alpha[14:] == cfg.prior_alpha).all() and (new.beta[14:] == cfg.prior_beta).all()
    assert np.isnan(new.reference[14:]).all() and not new.alarmed[14:].any()
    assert new.episodes == old.episodes == 60


def test_posterior_masks_outside_the_milestones_are_rejected():
    with pytest.raises(ValueError, match="bits outside"):
        MilestonePosteriors().update(1 << M, 0)


# --- facade --------------------------------------------------------------------------------
def make_step(rng: np.random.Generator, b: int) -> tuple[dict, list[GameState], np.ndarray]:
    obs = {"screen": screens(rng, b), "map_id": np.zeros(b), "features": np.zeros((b, 4))}
    states = [game_state(int(rng.integers(2)), int(rng.integers(3)), 0) for _ in range(b)]
    masks = np.where(rng.random(b) < 0.2, 1 << int(rng.integers(M)), 0)
    return obs, states, masks


def test_total_is_the_weighted_sum_of_parts():
    cfg = IntrinsicConfig(beta_rnd=0.3, beta_novel=0.7, beta_bayes=2.0)
    intr = IntrinsicRewards(cfg, num_envs=4)
    obs, states, masks = make_step(np.random.default_rng(7), 4)
    parts = intr.compute(obs, states, masks)
    assert set(parts) == {"r_rnd", "r_novel", "r_bayes"}
    r_env = np.array([0.0, 1.0, -1.0, 0.5], np.float32)
    expected = r_env + 0.3 * parts["r_rnd"] + 0.7 * parts["r_novel"] + 2.0 * parts["r_bayes"]
    np.testing.assert_allclose(intr.total(r_env, parts), expected, rtol=1e-6)


def trainer_loop_rewards(intr: IntrinsicRewards, obs, states, masks, r_env) -> dict:
    """The trainer loop's reward code before `IntrinsicRewards.step` (daddy/run/train.py)."""
    parts = intr.compute(obs, states, masks)
    parts["r_rnd"][[g.text_box and not g.in_battle for g in states]] = 0.0
    return {**parts, "r_total": intr.total(r_env, parts)}


@pytest.mark.parametrize(
    "cfg",
    [IntrinsicConfig(), IntrinsicConfig(novelty="knn", ngu_combine=True)],
    ids=["count", "knn+ngu"],
)
def test_step_mutes_curiosity_in_text_boxes_outside_battle_as_the_trainer_loop_did(cfg):
    rng = np.random.default_rng(11)
    step, loop = IntrinsicRewards(cfg, num_envs=4), IntrinsicRewards(cfg, num_envs=4)
    for k in range(6):
        obs, _, masks = make_step(rng, 4)
        states = [
            game_state(0, k, 0),
            game_state(0, k, 1, text_box=True),  # a menu: muted
            game_state(1, k, 0, text_box=True, in_battle=1),  # a battle's text: kept
            game_state(1, k, 1, text_box=k % 2 == 0),
        ]
        r_env = rng.normal(size=4).astype(np.float32)
        got = step.step(obs, states, masks, r_env)
        want = trainer_loop_rewards(loop, obs, states, masks, r_env)
        assert isinstance(got, StepRewards)
        for key, value in want.items():
            np.testing.assert_array_equal(getattr(got, key), value, err_msg=key)
            assert getattr(got, key).dtype == np.float32
        np.testing.assert_array_equal(got.r_env, r_env)
        assert got.r_rnd[1] == 0.0 and got.r_rnd[[0, 2]].min() > 0
        assert bool(got.r_rnd[3] == 0.0) is (k % 2 == 0)


def test_ngu_combination_scales_episodic_novelty_by_clipped_rnd():
    cfg = IntrinsicConfig(ngu_combine=True, ngu_max_modulation=5.0)
    intr = IntrinsicRewards(cfg, num_envs=8)
    rng = np.random.default_rng(8)
    obs, states, masks = make_step(rng, 8)
    states = [game_state(0, i, 0) for i in range(8)]  # all first visits: episodic = 1
    parts = intr.compute(obs, states, masks)
    err = intr.rnd.errors(obs)
    z = (err - float(intr.rnd.err_rms.mean)) / float(intr.rnd.err_rms.std)
    np.testing.assert_allclose(parts["r_novel"], np.clip(1 + z, 1, 5), rtol=1e-5)


def test_episode_end_updates_posteriors_and_resets_that_envs_novelty():
    intr = IntrinsicRewards(IntrinsicConfig(), num_envs=2)
    obs, _, _ = make_step(np.random.default_rng(9), 2)
    same = [game_state(1, 1, 1)] * 2
    intr.compute(obs, same, [0, 0])
    intr.on_episode_end(0, eligible_mask=0b11, reached_mask=0b01)
    assert intr.posteriors.alpha[0] == 2 and intr.posteriors.beta[1] == 2
    np.testing.assert_allclose(intr.compute(obs, same, [0, 0])["r_novel"], [1, 1 / math.sqrt(2)])


@pytest.mark.parametrize("novelty", ["count", "knn"])
def test_checkpoint_round_trip_continues_exactly(novelty):
    cfg = IntrinsicConfig(novelty=novelty, ngu_combine=True, rnd_lr=1e-3)
    rng = np.random.default_rng(10)
    steps = [make_step(rng, 4) for _ in range(8)]
    replay = [screens(rng, 8) for _ in range(8)]

    def run(intr: IntrinsicRewards, k: int) -> list:
        out = [intr.compute(*steps[k], env_ids=[0, 1, 2, 3])]
        out.append(intr.train_step(replay[k]))
        out.append(intr.on_episode_end(k % 4, ALL, k))
        out.append(intr.posteriors.summary())
        out.append(intr.posteriors.pressure())
        return out

    a = IntrinsicRewards(cfg, num_envs=4)
    for k in range(120):  # enough evidence for references and alarms to exist
        a.on_episode_end(k % 4, ALL, ALL if k < 90 else 0b1)
    for k in range(4):
        run(a, k)
    assert a.posteriors.alarmed_mask()
    saved = weights_only_round_trip(a.state_dict())
    b = IntrinsicRewards(IntrinsicConfig(novelty=novelty, ngu_combine=True, rnd_seed=99), 4)
    b.load_state_dict(saved)
    for k in range(4, 8):
        ra, rb = run(a, k), run(b, k)
        for key in ("r_rnd", "r_novel", "r_bayes"):
            np.testing.assert_array_equal(ra[0][key], rb[0][key])
        assert ra[1:] == rb[1:]
    np.testing.assert_array_equal(a.posteriors.alpha, b.posteriors.alpha)
    assert a.posteriors.alarm_count == b.posteriors.alarm_count


def test_loading_state_for_other_milestones_or_env_count_is_refused():
    saved = IntrinsicRewards(IntrinsicConfig(), num_envs=4).state_dict()
    with pytest.raises(ValueError, match="same num_envs"):
        IntrinsicRewards(IntrinsicConfig(), num_envs=3).load_state_dict(saved)
    post = MilestonePosteriors(DEFAULT_MILESTONES[:3])
    with pytest.raises(ValueError, match="same milestones"):
        post.load_state_dict(saved["posteriors"])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"novelty": "hash"}, "novelty must be"),
        ({"decay": 1.5}, "decay must be"),
        ({"ngu_max_modulation": 0.5}, "ngu_max_modulation"),
        ({"prior_alpha": 0}, "prior_alpha"),
    ],
)
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IntrinsicConfig(**kwargs)


def test_config_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="unknown intrinsic option.*beta_rdn"):
        IntrinsicConfig.from_dict({"beta_rdn": 0.1})
