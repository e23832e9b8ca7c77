"""benchmarks.variants: variants of the cascade tried and not adopted, re-runnable and paired with the shipped one."""

import json

import numpy as np
import optuna
import pytest

from benchmarks.problems import make_problem
from benchmarks.samplers import make_sampler
from benchmarks.suites import SUITES
from benchmarks.variants import VARIANTS
from benchmarks.variants_comparison import comparison
from cascaderl_optuna import CascadeSampler
from cascaderl_optuna._cascade.low_level import LowLevelAgent


def _ask_and_tell(study, problem, n_trials):
    """``n_trials`` trials of ``problem`` through ask and tell, each trial's number its noise seed."""
    for _ in range(n_trials):
        trial = study.ask()
        study.tell(trial, problem.evaluate(problem.suggest(trial), noise_seed=trial.number).value)


def _suggested_params(samplers, problem, seed, n_trials):
    """Per sampler name, the params of its ``n_trials`` trials of ``problem`` (one fresh study each, same seed)."""
    params = {}
    for name in samplers:
        study = optuna.create_study(sampler=make_sampler(name, seed, problem))
        _ask_and_tell(study, problem, n_trials)
        params[name] = [t.params for t in study.trials]
    return params


def test_the_variants_suites_run_every_variant_where_the_shipped_cascade_ran():
    heldout = {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["heldout"]}
    assert {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["variants"]} == heldout
    published = {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["full"] if "cascade" in e.samplers}
    assert {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["variants_published"]} == published
    assert len(published) == 10
    lora = {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["llm_family"] if "cascade" in e.samplers}
    assert {(e.problem, e.n_seeds, e.n_trials) for e in SUITES["variants_llm_family"]} == lora
    assert len(lora) == 6
    for suite in ("variants", "variants_published", "variants_llm_family"):
        assert all(set(e.samplers) == {f"cascade_{v}" for v in VARIANTS} for e in SUITES[suite])


def test_a_variant_sampler_is_the_cascade_with_its_agent_and_leaves_the_shipped_class_alone():
    sampler = make_sampler("cascade_truncated_proposals", 0, make_problem("llm_strong"))
    assert isinstance(sampler, CascadeSampler) and type(sampler) is not CascadeSampler
    agent_class = sampler._low_level_agent_class
    assert issubclass(agent_class, LowLevelAgent) and agent_class is not LowLevelAgent
    assert CascadeSampler._low_level_agent_class is LowLevelAgent
    assert make_sampler("cascade", 0, make_problem("llm_strong"))._low_level_agent_class is LowLevelAgent
    # and it really samples: a study runs through its own low level
    study = optuna.create_study(sampler=sampler)
    problem = make_problem("llm_strong")
    _ask_and_tell(study, problem, 14)
    assert len(study.trials) == 14


def test_truncated_proposals_put_no_mass_on_a_face_where_clipping_puts_half():
    truncated = VARIANTS["truncated_proposals"].make_agent_class()
    mean, std = np.array([1.0, 0.5]), np.array([0.2, 0.1])
    rng = np.random.default_rng(0)
    clipped = LowLevelAgent(mean, std).sample(rng, 4000)
    redrawn = truncated(mean, std).sample(rng, 4000)
    assert 0.45 < np.mean(clipped[:, 0] == 1.0) < 0.55
    assert np.mean(redrawn[:, 0] == 1.0) < 0.01 and redrawn.min() >= 0.0 and redrawn.max() <= 1.0
    # inside the cube the truncated policy keeps the Gaussian's shape: half-normal below the mean at the face
    assert abs(np.median(1.0 - redrawn[:, 0]) - 0.2 * 0.674) < 0.02


def _rows(path, curves):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            json.dumps({"seed": s, "values": c, "true_values": c, "incumbent_true": c, "optimum": 0.0}) + "\n"
            for s, c in enumerate(curves)
        )
    )


def test_comparison_pairs_each_variant_with_the_shipped_heldout_rows_by_seed(tmp_path):
    shipped = [[1.0] * 200, [2.0] * 200, [3.0] * 200]
    _rows(tmp_path / "heldout" / "mixint_f1_d10" / "cascade.jsonl", shipped)
    _rows(tmp_path / "heldout" / "mixint_f1_d10" / "tpe_default.jsonl", [[0.1] * 200] * 3)  # not the cascade: ignored
    _rows(
        tmp_path / "variants" / "mixint_f1_d10" / "cascade_truncated_proposals.jsonl",
        [[0.5] * 200, [2.5] * 200, [2.0] * 200],
    )  # better, worse, better
    text = comparison(tmp_path)
    assert "## `cascade_truncated_proposals`" in text and "On the held-out suite: 1 problems, 3 studies." in text
    assert "On the published comparison (full suite): not run." in text
    assert "| cascade_truncated_proposals | 1 | 2/1, p = 1 | 2/1, p = 1 | 2/1, p = 1 |" in text
    assert "| cascade_truncated_proposals | mixint | 1 |" in text
    # and on the published problems, each problem's own line
    _rows(tmp_path / "full" / "llm_strong" / "cascade.jsonl", shipped)
    _rows(
        tmp_path / "variants_published" / "llm_strong" / "cascade_truncated_proposals.jsonl",
        [[0.5] * 200, [1.5] * 200, [2.0] * 200],
    )  # better, better, better
    text = comparison(tmp_path)
    assert "On the published comparison (full suite): 1 problems, 3 studies." in text
    assert (
        "| llm_strong | 3 | 3/0/0, p = 0.25 (2 -> 1.5) | 3/0/0, p = 0.25 (2 -> 1.5) | 3/0/0, p = 0.25 (2 -> 1.5) |"
        in text
    )


def test_comparison_pairs_each_variant_with_the_shipped_rerun_too_where_that_was_run(tmp_path):
    _rows(tmp_path / "heldout" / "mixint_f1_d10" / "cascade.jsonl", [[1.0] * 200, [2.0] * 200, [3.0] * 200])
    _rows(
        tmp_path / "variants" / "mixint_f1_d10" / "cascade_truncated_proposals.jsonl",
        [[0.5] * 200, [2.5] * 200, [2.0] * 200],
    )  # against the committed rows: better, worse, better
    rerun_title = "Against `cascade_shipped_rerun` on the held-out suite"
    assert rerun_title not in comparison(tmp_path)  # no re-run rows: no such block
    _rows(
        tmp_path / "variants" / "mixint_f1_d10" / "cascade_shipped_rerun.jsonl",
        [[0.4] * 200, [2.4] * 200, [2.1] * 200],
    )  # against the re-run: worse, worse, better
    text = comparison(tmp_path)
    variant = text[text.index("## `cascade_truncated_proposals`") : text.index("## `cascade_dual_clip`")]
    committed_block, rerun_block = variant[: variant.index(rerun_title)], variant[variant.index(rerun_title) :]
    assert "| cascade_truncated_proposals | 1 | 2/1, p = 1 | 2/1, p = 1 | 2/1, p = 1 |" in committed_block
    assert "1 problems, 3 studies." in rerun_block
    assert "| cascade_truncated_proposals | 1 | 1/2, p = 1 | 1/2, p = 1 | 1/2, p = 1 |" in rerun_block
    # the re-run is not compared with itself
    rerun = text[text.index("## `cascade_shipped_rerun`") :]
    rerun = rerun[: rerun.index("\n## ")] if "\n## " in rerun else rerun
    assert rerun_title not in rerun and "On the held-out suite: 1 problems, 3 studies." in rerun


def test_allocation_windows_count_trials_after_the_start_on_good_strategies():
    from benchmarks import high_level_allocation as hla

    gaps = [9.0] * hla.START + [0.0] * 20 + [0.5] * 30 + [0.01] * 140  # the start is not counted
    out = hla.allocation(gaps)
    assert out["10-50"] == {"good_share": 0.5, "median_gap": 0.25}
    assert out["50-100"] == {"good_share": 0.8, "median_gap": 0.01}  # trials 50-59 at 0.5, 60-99 at 0.01
    assert out["100-200"] == {"good_share": 1.0, "median_gap": 0.01}
    assert hla.strategy_key(
        {
            "optimizer": "sgd",
            "scheduler": "cosine",
            "regularization": "none",
            "adapter": "lora",
            "lora_targets": "qv",
            "learning_rate": 0.1,
        }
    ) == ("sgd", "cosine", "none", "lora", "qv")


def test_an_observed_trial_bounds_its_strategy_s_best_reachable_loss(monkeypatch):
    from benchmarks import high_level_allocation as hla

    monkeypatch.setattr(hla, "strategy_minima", lambda variant: {("a",): 1.0, ("b",): 9.0, ("c",): 1.5})
    assert hla.strategy_gaps("strong", []) == {("a",): 0.0, ("b",): 8.0, ("c",): 0.5}
    # the local optimiser stalled on b (a real trial reached 1.2) and c's trials are no better than its minimum
    assert hla.strategy_gaps("strong", [(("b",), 1.2), (("c",), 2.0)]) == pytest.approx(
        {("a",): 0.0, ("b",): 0.2, ("c",): 0.5}
    )


def test_best_strategy_of_8_acts_with_the_proposal_the_critic_scores_best_and_stores_its_policy_log_prob():
    agent_class = VARIANTS["best_strategy_of_8"].make_high_level_agent_class()
    from cascaderl_optuna._cascade.high_level import HighLevelAgent

    assert issubclass(agent_class, HighLevelAgent)

    def gap(k, prefix):
        return np.zeros(3)

    gap.strategy_score = lambda strategies: -np.abs(strategies[:, 0] - 2.0)  # choice 2 scores best
    rng = np.random.default_rng(0)
    taken = []
    for _ in range(60):
        agent = agent_class([3])
        chosen, log_probs, probs, _ = agent.act(rng, critic_gap=gap)
        taken.append(chosen[0])
        assert log_probs[0] == pytest.approx(np.log(probs[0][chosen[0]]))  # the proposal distribution's
    # 8 near-uniform draws miss choice 2 with probability (2/3)^8 = 4%; one plain draw takes it a third of the time
    assert np.mean(np.array(taken) == 2) > 0.85
    plain = [HighLevelAgent([3]).act(rng, critic_gap=gap)[0][0] for _ in range(60)]
    assert np.mean(np.array(plain) == 2) < 0.6
    # without a strategy score (the space-filling start's successors with no critic) it is the shipped agent
    assert agent_class([3]).act(np.random.default_rng(1))[0] == HighLevelAgent([3]).act(np.random.default_rng(1))[0]


def test_the_best_strategy_variant_changes_the_decisions_after_the_start_and_not_before():
    assert CascadeSampler._high_level_agent_class.__name__ == "HighLevelAgent"
    problem = make_problem("llm_strong")
    params = _suggested_params(("cascade", "cascade_best_strategy_of_8"), problem, 0, 20)
    assert params["cascade"][:10] == params["cascade_best_strategy_of_8"][:10]  # the space-filling start
    assert params["cascade"][10:] != params["cascade_best_strategy_of_8"][10:]


def test_the_shared_floor_gives_each_head_the_floor_divided_by_the_number_of_heads():
    from cascaderl_optuna._cascade.high_level import HighLevelAgent

    shared = VARIANTS["floor_shared_by_heads"].make_high_level_agent_class()
    strong = {}
    from cascaderl_optuna._cascade.high_level import TUNING_TRIALS

    tuned = np.array([[i % 3, i % 4] for i in range(12 * TUNING_TRIALS)])  # every choice (and pair) has its trials
    for agent in (HighLevelAgent([3, 4], floor=0.15), shared([3, 4], floor=0.15)):
        agent.observe(tuned, np.zeros(len(tuned)))
        agent.bias[:] = -50.0
        agent.bias[:, 0] = 50.0  # every head all but certain of its first choice
        _, _, probs, _ = agent.act(np.random.default_rng(0))
        strong[type(agent).__name__] = [p.min() for p in probs]
    assert strong["HighLevelAgent"] == pytest.approx([0.15 / 3, 0.15 / 4])
    assert strong["SharedFloorAgent"] == pytest.approx([0.075 / 3, 0.075 / 4])


def test_the_committed_comparison_is_what_the_committed_rows_make():
    from benchmarks.runner import RESULTS_DIR

    assert comparison(RESULTS_DIR) == (RESULTS_DIR / "variants" / "COMPARISON.md").read_text(), (
        "stale: python -m benchmarks.variants_comparison > benchmarks/results/variants/COMPARISON.md"
    )


def test_the_committed_allocation_table_is_what_its_committed_per_study_file_makes():
    from benchmarks import high_level_allocation as hla
    from benchmarks.runner import RESULTS_DIR

    studies = json.loads((RESULTS_DIR / "ablation" / "high_level_allocation.json").read_text())
    assert len(studies) == len(hla.PROBLEMS) * len(hla.SAMPLERS) * hla.N_SEEDS
    assert hla.markdown(studies) == (RESULTS_DIR / "ablation" / "high_level_allocation.md").read_text()


def test_elite_frame_aligns_the_policy_with_a_rotated_valley_of_the_real_trials():
    agent_class = VARIANTS["elite_frame"].make_agent_class()
    rng = np.random.default_rng(0)
    # real trials along the diagonal valley x0 = x1, better near its middle
    t = rng.random(40)
    real_x = np.column_stack([t, t + 0.01 * rng.standard_normal(40)]).clip(0, 1)
    utility = -np.abs(t - 0.5)
    behaviour = np.full((40, 2), np.nan)

    def flat(a):  # a critic with no opinion: the frame alone shapes the policy
        return np.zeros(len(a))

    agent = agent_class(np.array([0.5, 0.5]), np.array([0.1, 0.1]), generations=1)
    agent.improve(flat, rng, real_x, utility, behaviour)
    draws = agent.sample(rng, 4000)
    along, across = (draws - 0.5) @ np.array([1, 1]) / np.sqrt(2), (draws - 0.5) @ np.array([1, -1]) / np.sqrt(2)
    assert along.std() > 1.5 * across.std()  # elongated along the valley (about 1.9 to 3.4 over seeds 0-4)
    shipped = LowLevelAgent(np.array([0.5, 0.5]), np.array([0.1, 0.1]), generations=1)
    shipped.improve(flat, np.random.default_rng(0), real_x, utility, behaviour)
    s = shipped.sample(rng, 4000) - 0.5
    assert (s @ np.array([1, 1])).std() < 1.2 * (s @ np.array([1, -1])).std()  # axis-aligned: a round cloud
    # the per-dimension log-probabilities it stores add up to the log-density of the rotated Gaussian
    x = draws[:5]
    centre, rot = agent._frame
    z = (x - centre) @ rot
    expected = (-0.5 * ((z - agent._zmean) / agent._zstd) ** 2 - np.log(agent._zstd) - 0.5 * np.log(2 * np.pi)).sum(1)
    assert agent.log_prob(x).sum(1) == pytest.approx(expected)
    # too few real trials for a frame: the shipped agent's behaviour
    few = agent_class(np.array([0.5, 0.5]), np.array([0.1, 0.1]), generations=1)
    few.improve(flat, np.random.default_rng(0), real_x[:4], utility[:4], behaviour[:4])
    assert few._frame is None


def test_the_warped_value_critic_keeps_the_order_and_the_magnitudes_of_the_values():
    from optuna.distributions import FloatDistribution
    from optuna.study import StudyDirection
    from optuna.trial import create_trial
    from optuna.trial import TrialState

    sampler = make_sampler("cascade_warped_value_critic", 0, make_problem("llm_strong"))
    dist = {"x": FloatDistribution(0, 1)}

    def trial(value, state=TrialState.COMPLETE):
        return create_trial(params={"x": 0.5}, distributions=dist, value=value, state=state)

    values = [1.0, 1.1, 1.2, 1.3, 1.4, 3.0, 50.0]  # minimised; 50 is a divergence
    trials = [trial(v) for v in values] + [trial(None, TrialState.PRUNED), trial(None, TrialState.FAIL)]
    utilities = np.linspace(1, -1, len(trials))
    targets = sampler._warped(trials, utilities, StudyDirection.MINIMIZE)
    complete = targets[: len(values)]
    assert list(np.argsort(-complete)) == list(range(len(values)))  # lower loss, higher target
    assert complete.mean() == pytest.approx(0.0) and complete.std() == pytest.approx(1.0)
    assert targets[-2] == targets[-1] == complete.min()  # pruned and failed tie at the bottom
    # magnitudes: 1.0 -> 1.4 is a small step next to 1.4 -> 3.0, which ranks would space evenly
    assert complete[0] - complete[4] < complete[4] - complete[5]
    maximised = sampler._warped(trials, utilities, StudyDirection.MAXIMIZE)[: len(values)]
    assert np.argmax(maximised) == len(values) - 1
    # too few complete values: the rank utilities
    few = utilities[:3]
    assert sampler._warped(trials[:3], few, StudyDirection.MINIMIZE) is few


def test_refined_acquisition_finds_a_sharp_optimum_of_the_score_that_the_best_of_64_misses():
    agent_class = VARIANTS["refined_acquisition"].make_agent_class()
    optimum = np.array([0.3, 0.71234, 0.5])

    def sharp(a):  # an ill-conditioned quadratic score, like bbob f10's last coordinates
        return -(((a - optimum) * np.array([1.0, 1e3, 30.0])) ** 2).sum(1)

    rng = np.random.default_rng(0)
    real_x = np.array([[0.31, 0.70, 0.52], [0.9, 0.1, 0.1], [0.29, 0.73, 0.45]])
    behaviour = np.full(real_x.shape, np.nan)
    refined_errors, shipped_errors = [], []
    for seed in range(5):
        refined = agent_class(np.full(3, 0.5), np.full(3, 0.2), generations=0)
        refined.improve(sharp, rng, real_x, -np.arange(3.0), behaviour)
        refined_errors.append(abs(refined.act(np.random.default_rng(seed), sharp)[1] - optimum[1]))
        shipped = LowLevelAgent(np.full(3, 0.5), np.full(3, 0.2), generations=0)
        shipped_errors.append(abs(shipped.act(np.random.default_rng(seed), sharp)[1] - optimum[1]))
    assert max(refined_errors) < 1e-3 < min(shipped_errors)
    # without a score it is a plain draw of the policy, as the shipped agent's
    plain = agent_class(np.full(3, 0.5), np.full(3, 0.2))
    assert plain.act(np.random.default_rng(1)) == pytest.approx(
        LowLevelAgent(np.full(3, 0.5), np.full(3, 0.2)).act(np.random.default_rng(1))
    )


def test_the_unwarped_value_critic_models_the_standardised_values_themselves():
    from optuna.distributions import FloatDistribution
    from optuna.study import StudyDirection
    from optuna.trial import create_trial
    from optuna.trial import TrialState

    sampler = make_sampler("cascade_value_critic_refined_acquisition", 0, make_problem("mixint_f10_d10"))
    assert sampler._low_level_agent_class.__name__ == "RefinedAcquisitionAgent"
    dist = {"x": FloatDistribution(0, 1)}
    values = np.array([5.0, 1.0, 2.0, 40.0, 3.0, 1.5])
    trials = [create_trial(params={"x": 0.5}, distributions=dist, value=float(v)) for v in values]
    trials.append(create_trial(params={"x": 0.5}, distributions=dist, state=TrialState.FAIL))
    targets = sampler._warped(trials, np.zeros(len(trials)), StudyDirection.MINIMIZE)
    expected = (values.mean() - values) / values.std()  # affine in the value: no warp, lower loss higher
    assert targets[:-1] == pytest.approx(expected)
    assert targets[-1] == pytest.approx(expected.min())


def test_the_commitment_table_tells_a_variant_that_leaves_the_best_family_from_the_shipped_one_that_tunes_it():
    from benchmarks.variants_comparison import commitment_table
    from tests.test_early_commitment import _early_to_runner_up
    from tests.test_early_commitment import _late_to_best
    from tests.test_early_commitment import _row

    shipped = {("p", "cascade"): [_late_to_best(s) for s in range(3)]}  # all end tuned on adamw from trial 150
    variant = {("p", "cascade"): [_early_to_runner_up(0), _late_to_best(1), _late_to_best(2)]}
    assert commitment_table(shipped, variant)[-2] == "| p | adamw | 100% -> 67% | 100% -> 67% | 150 -> 150 |"
    variant = {("p", "cascade"): [_early_to_runner_up(s) for s in range(3)]}  # never a tuned adamw trial
    assert commitment_table(shipped, variant)[-2] == (
        "| p | adamw | 100% -> 0% | 100% -> 0% | 150 -> half or more never |"
    )
    # rows that do not record their families (the published problems without strategy families) give no table
    bare = {("p", "cascade"): [_row(0, [("adamw", 1.59)] * 60, families=False)]}
    assert commitment_table(bare, bare) == []


def test_tuning_spread_widens_the_start_of_a_strategy_with_an_untuned_choice_and_only_of_those():
    problem = make_problem("llm_family_2")
    sampler = make_sampler("cascade_tuning_spread", 0, problem)
    starts: list[tuple[bool, np.ndarray]] = []
    untuned_now: list[bool] = []

    class Recording(LowLevelAgent):
        def __init__(self, mean, std, **kwargs):
            starts.append((untuned_now[-1], np.asarray(std, dtype=float).copy()))
            super().__init__(mean, std, **kwargs)

    variant_class = type(sampler)  # made per call by make_variant_sampler: changing it touches nothing else
    variant_class._low_level_agent_class = Recording
    tactical = variant_class._tactical

    def recording_tactical(self, history, decisions, heads, choices, chosen, *rest):
        # the rule, counted here from the arrays the sampler decides with: a chosen choice with < 16 trials
        always = (choices >= 0).all(0)  # conditional heads (SGD's nesterov) do not count
        untuned_now.append(any(always[k] and int((choices[:, k] == c).sum()) < 16 for k, c in enumerate(chosen)))
        return tactical(self, history, decisions, heads, choices, chosen, *rest)

    variant_class._tactical = recording_tactical
    study = optuna.create_study(sampler=sampler)
    _ask_and_tell(study, problem, 120)
    widened = [std.min() >= variant_class.spread for untuned, std in starts if untuned]
    tuned = [std for untuned, std in starts if not untuned]
    assert widened and all(widened)
    assert tuned and any(std.min() < variant_class.spread for std in tuned)  # the elite's own spread, not widened
    assert CascadeSampler._low_level_agent_class is LowLevelAgent
    assert "_low_level_agent_class" not in sampler.__dict__  # the widening lasts one decision


def test_sigma_relative_steps_keep_a_dimension_the_score_ignores_within_a_spread_where_adam_walks_it_away():
    from benchmarks.trap_trace import ignored_coordinate_moves

    # a score of the first coordinate only; per seed, one update's move of each coordinate, in spreads
    moves = ignored_coordinate_moves(n_seeds=10)
    shipped_informative, shipped_ignored = moves["shipped"]
    variant_informative, variant_ignored = moves["sigma_relative_steps"]
    assert np.median(shipped_ignored) > 1.5  # the shipped update walks the ignored coordinate away
    assert variant_ignored.max() < 1.2  # the variant's stays within about a spread
    assert (variant_informative > 2.0).all() and (shipped_informative > 2.0).all()  # both climb the score


def test_fit_without_far_outliers_leaves_the_diverged_trials_out_of_the_kernel_fit_only(monkeypatch):
    import cascaderl_optuna._cascade.critic as critic
    import cascaderl_optuna.sampler as sampler_module

    fitted_rows: dict[str, list[np.ndarray]] = {"cascade": [], "cascade_fit_without_far_outliers": []}
    real_fit = critic.fit_kernel
    current = []

    def recording_fit(x, y):
        fitted_rows[current[-1]].append(np.asarray(x)[:, 0].copy())
        return real_fit(x, y)

    monkeypatch.setattr(critic, "fit_kernel", recording_fit)
    monkeypatch.setattr(sampler_module, "fit_kernel", recording_fit)
    problem = make_problem("llm_strong")

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        y = trial.suggest_float("y", -1.0, 1.0)
        return 1e6 if x > 0.6 else x**2 + y**2  # a diverged run beyond x = 0.6

    for name in fitted_rows:
        current.append(name)
        study = optuna.create_study(sampler=make_sampler(name, 0, problem))
        study.optimize(objective, n_trials=40)
        assert any(t.value == 1e6 for t in study.trials)
    # the unit coordinate of x = 0.6 is 0.8. The first fit is on the 10 space-filling trials, the same for both, 3 of
    # them diverged: more than a quarter, so Q3 is a diverged value and the fence keeps everything
    first, *later = fitted_rows["cascade_fit_without_far_outliers"]
    assert len(first) == 10 and (first > 0.8).sum() == 3
    assert later and not any((rows > 0.8).any() for rows in later)
    assert all((rows > 0.8).any() for rows in fitted_rows["cascade"][1:])  # the shipped fit keeps them


def test_the_trap_trace_follows_the_committed_study_and_records_the_best_family_s_decisions():
    from benchmarks.trap_trace import committed_values
    from benchmarks.trap_trace import trace

    traced = trace(2, n_trials=24)
    committed = committed_values(2)[:24]
    # the space-filling start at least is the committed study's, trial for trial (the rows keep 7 digits)
    assert np.allclose(traced["values"][:10], committed[:10], rtol=1e-6, atol=0.0)
    adamw_decided = [d["number"] for d in traced["decisions"]]
    assert adamw_decided and all(n >= 10 for n in adamw_decided)
    for d in traced["decisions"]:
        assert 0.0 <= d["mean"][1] <= 1.0 and d["std"][1] > 0.0
        assert -6.0 <= d["log10_lr"] <= 0.0
    assert traced["probe"]["trials"] < 24 and len(traced["probe"]["score_at_start"]) == 13


def test_the_choice_shifted_critic_learns_how_far_one_choice_s_basin_sits_from_another_s():
    sampler_class = VARIANTS["choice_shifted_critic"].make_sampler_class()
    rng = np.random.default_rng(0)
    # one tactical coordinate, two choices of one head: the same basin at 0.3 for choice 0 and at 0.6 for choice 1
    u = rng.random(60)
    c = np.arange(60) % 2
    y = -((u - np.where(c == 0, 0.3, 0.6)) ** 2) / 0.01
    x = np.column_stack([u, c == 0, c == 1]).astype(float)
    params, shift = sampler_class.fit_shifted_kernel(x, y, 1)
    assert shift.shape == (1, 2)
    # in the common frame the two basins coincide: 0.3 + s0 = 0.6 + s1
    assert abs((shift[0, 0] - shift[0, 1]) - 0.3) < 0.05
    moved = sampler_class.in_frame(x, shift, 1)
    assert np.allclose(moved[:, 1:], x[:, 1:])
    # the shipped kernel sees one landscape per choice only through a short length scale on the code
    from cascaderl_optuna._cascade.critic import fit_kernel

    assert np.exp(fit_kernel(x, y).log_lengthscale[1:]).max() < np.exp(params.log_lengthscale[1:]).max()


def test_the_choice_shifted_critic_starts_a_strategy_from_the_others_elite_moved_into_its_frame(monkeypatch):
    from cascaderl_optuna._cascade.coordinates import one_hot
    from cascaderl_optuna._cascade.low_level import same_strategy

    problem = make_problem("llm_family_2")
    sampler = make_sampler("cascade_choice_shifted_critic", 0, problem)
    raw, moved = [], []
    variant_tactical, shipped_tactical = type(sampler)._tactical, CascadeSampler._tactical

    def outer(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng):
        raw.append((heads, choices, list(chosen), x, critic))
        return variant_tactical(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng)

    def inner(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng):
        moved.append(x)
        return shipped_tactical(self, history, decisions, heads, choices, chosen, tactical, x, critic, rng)

    monkeypatch.setattr(type(sampler), "_tactical", outer)
    monkeypatch.setattr(CascadeSampler, "_tactical", inner)
    study = optuna.create_study(sampler=sampler)
    _ask_and_tell(study, problem, 40)
    heads, choices, chosen, x, critic = raw[-1]
    assert np.abs(critic.shift).max() > 0.01  # the fitted shifts are not all zero
    same = same_strategy(choices, chosen)
    assert same.any() and (~same).any()
    code = one_hot(np.array([chosen]), heads)[0]
    expected = np.clip(x + (one_hot(choices, heads) - code) @ critic.shift.T, 0.0, 1.0)
    assert np.allclose(moved[-1], expected, equal_nan=True)
    # a trial of the chosen strategy is where it was (all its choices agree); the others moved
    full = (choices == np.array(chosen)).all(1)
    assert np.allclose(moved[-1][full], x[full], equal_nan=True)
    assert not np.allclose(moved[-1][~full], x[~full], equal_nan=True)


def test_the_shift_check_scores_a_fitted_shift_by_its_distance_from_the_families_true_best_rates():
    from benchmarks.shift_check import _lr_shift_errors
    from cascaderl_optuna._cascade.coordinates import split_search_space

    problem = make_problem("llm_family_2")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    _ask_and_tell(study, problem, 30)
    space = optuna.search_space.intersection_search_space(study.trials)
    heads, tactical = split_search_space(space, problem.strategic_params)
    spec = problem.spec
    names = [h.name for h in heads]
    k = names.index("optimizer")
    start = sum(h.n_choices for h in heads[:k])
    shift = np.zeros((len(tactical), sum(h.n_choices for h in heads)))
    lr = list(tactical).index("learning_rate")
    true = {f.name: spec.family(spec.best).log10_lr - f.log10_lr for f in spec.families if f.name != spec.best}
    # no shift: the error is the true difference of the best rates
    assert sorted(_lr_shift_errors(shift, heads, tactical, spec)) == pytest.approx(
        sorted(abs(v) for v in true.values())
    )
    # the true shifts (in unit-cube coordinates of the 6-decade learning rate): no error
    for j, choice in enumerate(heads[k].choices):
        if choice in true:
            shift[lr, start + j] = true[choice] / 6.0
    assert max(_lr_shift_errors(shift, heads, tactical, spec)) == pytest.approx(0.0, abs=1e-9)


def test_tuning_trials_24_keeps_the_share_on_a_choice_until_its_24th_trial():
    from cascaderl_optuna._cascade.encoding import N_FEATURES
    from cascaderl_optuna._cascade.encoding import UNCERTAINTY
    from cascaderl_optuna._cascade.high_level import HighLevelAgent

    agent_class = VARIANTS["tuning_trials_24"].make_high_level_agent_class()

    def probabilities(agent, count):
        phi = np.zeros((2, N_FEATURES))
        phi[:, UNCERTAINTY] = [1 / np.sqrt(1 + count), 1 / np.sqrt(1 + 40)]  # the encoder's 1 / sqrt(1 + count)
        return agent.head_probabilities(0, phi)

    shipped, variant = HighLevelAgent([2]), agent_class([2])
    # below 16 trials both give the choice the share; at 20 only the variant does; at 30 neither
    assert probabilities(variant, 10) == pytest.approx(probabilities(shipped, 10))
    assert probabilities(variant, 20)[0] > probabilities(shipped, 20)[0] + 0.1
    assert probabilities(variant, 30) == pytest.approx(probabilities(shipped, 30))
    # the cut is between the 23rd and the 24th trial
    assert probabilities(variant, 23)[0] > probabilities(shipped, 23)[0] + 0.05
    assert probabilities(variant, 24) == pytest.approx(probabilities(shipped, 24))
    # with a warm start's counts the variant still adds its 8 trials to them
    warm = agent_class([2], tuned_elsewhere=np.array([[4.0, 0.0]]))
    assert probabilities(warm, 16)[0] > probabilities(shipped, 16)[0] + 0.1  # 16 + 4 of 24
    assert probabilities(warm, 20) == pytest.approx(probabilities(shipped, 20))  # 20 + 4: tuned


def test_the_divergence_critic_counts_failed_non_finite_and_far_out_runs_as_diverged_and_never_a_pruned_one():
    from optuna.distributions import FloatDistribution
    from optuna.study import StudyDirection
    from optuna.trial import create_trial
    from optuna.trial import TrialState

    diverged = VARIANTS["divergence_critic"].make_sampler_class().diverged
    dist = {"x": FloatDistribution(0.0, 1.0)}

    def trial(value, state=TrialState.COMPLETE, step=None):
        kw = {"intermediate_values": {step: value}} if step is not None else {}
        return create_trial(params={"x": 0.5}, distributions=dist, state=state, value=None if step else value, **kw)

    bulk = [trial(v) for v in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5)]  # Q1 1.125, Q3 1.375: the fence at 2.125
    trials = [
        *bulk,
        trial(2.1),
        trial(10.4),
        trial(float("inf")),
        trial(None, TrialState.FAIL),
        trial(50.0, TrialState.PRUNED, 3),
    ]
    assert list(diverged(trials, StudyDirection.MINIMIZE)) == [False] * 7 + [True, True, True, False]
    # maximising, the far-out side is the low one
    flipped = [trial(-v) for v in (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 2.1, 10.4)]
    assert list(diverged(flipped, StudyDirection.MAXIMIZE)) == [False] * 7 + [True]
    assert not diverged(flipped, StudyDirection.MINIMIZE).any()  # -1.0 is the best of those when minimising


def test_the_divergence_critic_keeps_diverged_runs_out_of_the_value_model_and_calls_their_region_the_worst(monkeypatch):
    sampler = make_sampler("cascade_divergence_critic", 0, make_problem("llm_strong"))
    variant_class = type(sampler)
    seen = []
    real_critic = variant_class._critic

    def recording_critic(self, study, history, heads, tactical, x, choices):
        posterior = real_critic(self, study, history, heads, tactical, x, choices)
        seen.append((posterior, len(history.finished)))
        return posterior

    monkeypatch.setattr(variant_class, "_critic", recording_critic)

    def objective(trial):
        trial.suggest_categorical("opt", ["a", "b"])
        x = trial.suggest_float("x", -1.0, 1.0)
        y = trial.suggest_float("y", -1.0, 1.0)
        return 1e6 if x > 0.2 else x**2 + y**2 + (trial.params["opt"] == "b")  # a diverged run beyond x = 0.2

    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=40)
    n_diverged = sum(t.value == 1e6 for t in study.trials)
    assert n_diverged >= 3
    posterior, n_finished = seen[-1]
    # the value model's data: the finished runs that did not diverge (x's unit coordinate 0.6 is the cliff)
    data = posterior.value._xs / posterior.value._inv_ls
    assert len(data) == n_finished - sum(t.value == 1e6 for t in study.trials[:n_finished])
    assert (data[:, 0] <= 0.6).all() or (data[:, 1] <= 0.6).all()  # the tactical columns are x and y, in some order
    x_col = 0 if (data[:, 0] <= 0.6).all() else 1
    query = np.zeros((2, data.shape[1]))
    query[:, 1 - x_col] = 0.5
    query[:, 2:] = [1.0, 0.0]  # choice "a" (first in the code)
    query[:, x_col] = [0.5, 0.9]  # x = 0, in the basin, and x = 0.8, beyond the cliff
    chance = np.clip(posterior.chance.predict(query)[0], 0, 1)
    assert chance[0] < 0.2 and chance[1] > 0.5
    mean, sd = posterior.predict(query)
    value_mean, value_sd = posterior.value.predict(query)
    # the model of the runs that did not diverge alone is optimistic beyond the cliff (its best runs border it); the
    # chance of diverging takes the value there towards the worst kept run's and the spread towards none
    assert value_mean[1] > value_mean[0] and mean[1] < mean[0]
    assert np.allclose(mean, (1 - chance) * value_mean + chance * posterior.worst)
    assert np.allclose(sd, (1 - chance) * value_sd)


def test_the_shipped_rerun_variant_is_the_shipped_sampler_suggestion_for_suggestion():
    problem = make_problem("llm_family_2")
    params = _suggested_params(("cascade", "cascade_shipped_rerun"), problem, 3, 25)
    assert params["cascade"] == params["cascade_shipped_rerun"]
    assert len({t["optimizer"] for t in params["cascade"]}) > 1  # a real study, several families tried
