"""The capacity model's arithmetic (bench/capacity.py) on the round figures of
bench/testdata/costs/, worked out by hand in the comments."""
import json
import re
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capacity  # noqa: E402

FIXTURE = Path(__file__).resolve().parent / "testdata" / "costs"
# 10,000 increments/s and 20,000 reads/s on a million counters, 1,000 of them active a minute.
WORKLOAD = capacity.Workload(increments=10_000, reads=20_000, counters=1_000_000,
                             active_per_minute=1_000, viewers=15_000, retention_days=10)


def run(workload=WORKLOAD, results=FIXTURE, **assumptions):
    rows, limits = capacity.model(workload, capacity.load_costs(results), capacity.Assumptions(**assumptions))
    return {r.component: r for r in rows}, {lim.what: lim for lim in limits}


def test_costs_come_from_the_results_files():
    c = capacity.load_costs(FIXTURE)
    assert (c.write_us, c.redis_primary_us, c.redis_replay_us) == (50, 20, 10)
    assert (c.relay_us, c.kafka_us, c.analysis_us, c.postgres_us) == (12, 30, 5, 25)  # write path: requests
    assert (c.minute_row_bytes, c.event_id_bytes, c.redis_counter_bytes) == (80, 100, 200)
    assert c.write_rss == 16384 * 1024
    assert (c.hot_key_us, c.hot_sharded_us) == pytest.approx((10, 15))  # CPU of the primaries that served


def test_stateless_services_scale_by_cpu_with_two_replicas_at_least():
    rows, _ = run()
    assert rows["count-write-service"].cores == pytest.approx(0.5)   # 10,000 × 50 µs
    assert rows["count-write-service"].instances == 2                 # 0.5 < 2 cores × 0.6, minimum 2
    assert rows["count-read-service"].cores == pytest.approx(0.8)    # 20,000 × 40 µs
    assert rows["ingress (nginx)"].cores == pytest.approx(0.3)       # 30,000 × 10 µs
    big, _ = run(replace(WORKLOAD, increments=100_000))
    assert big["count-write-service"].instances == 5                  # 5 cores / 1.2 per replica


def test_redis_one_primary_and_its_ceiling():
    rows, limits = run()
    assert rows["Redis primary"].cores == pytest.approx(0.2)          # 10,000 × 20 µs
    assert rows["Redis primary"].memory == pytest.approx(2e8)         # 1M counters × 200 B
    assert rows["Redis primary"].instances == 1
    assert rows["Redis replicas"].cores == pytest.approx(0.1 + 0.2)   # replay 10 µs + reads 10 µs
    assert limits["one Redis primary, CPU"].ceiling == pytest.approx(30_000)  # 0.6 core / 20 µs
    assert limits["one Redis primary, CPU"].headroom == pytest.approx(3.0)


def test_past_the_ceiling_the_model_asks_for_redis_cluster_which_is_built():
    rows, limits = run(replace(WORKLOAD, increments=40_000))
    assert rows["Redis primary"].instances == 2                       # 0.8 core / 0.6 per primary
    assert rows["Redis primary"].status == rows["Redis replicas"].status == "built: Redis Cluster"
    assert limits["one Redis primary, CPU"].switch.startswith("Redis Cluster with 2 primaries (built")
    assert limits["one Redis primary, CPU"].headroom < 1


def test_a_cluster_primary_holds_whole_tag_groups():
    rows, limits = run(replace(WORKLOAD, increments=400_000))
    # one primary takes 30,000/s = 7.5 % of the load: 4 of the 60 groups, so 15 primaries
    # (14 would leave some with 5 groups: 33,333/s)
    assert rows["Redis primary"].instances == 15
    assert rows["Redis primary"].note == "15 shard(s), ≤ 4 of 60 tag groups each"
    assert rows["Redis replicas"].cores == pytest.approx(4.0 + 0.2)      # every increment replayed once
    lim = limits["a cluster's 60 tag groups, one per primary, CPU"]
    assert lim.ceiling == pytest.approx(60 * 30_000)
    assert "REDIS_CLUSTER_GROUPS" in lim.switch
    rows, _ = run(replace(WORKLOAD, increments=400_000), redis_groups=64)
    assert rows["Redis primary"].instances == 16                           # ≤ 4 of 64 each (5: 31,250/s)


def test_one_hot_counter_as_one_key_and_sharded():
    c, a = capacity.load_costs(FIXTURE), capacity.Assumptions()
    assert capacity.hot_counter(c, a, 1) == pytest.approx((60_000, 60_000))   # 0.6 / 10 µs; one server: one key
    assert capacity.hot_counter(c, a, 2)[1] == pytest.approx(80_000)          # busiest takes 3 of 6: 0.6 / 7.5 µs
    assert capacity.hot_counter(c, a, 3)[1] == pytest.approx(120_000)         # 2 of 6: 0.6 / 5 µs
    assert capacity.hot_counter(c, a, 4)[1] == pytest.approx(120_000)         # still 2 of 6 on one of them
    assert capacity.hot_counter(c, a, 29)[1] == pytest.approx(240_000)        # 1 of 6: 0.6 / 2.5 µs


def test_sub_counters_match_key_layout():
    header = (Path(__file__).resolve().parents[1] / "common" / "redis" / "key_layout.hpp").read_text()
    assert int(re.search(r"kSubCounters = (\d+);", header).group(1)) == capacity.SUB_COUNTERS


def test_pipeline_and_history_storage():
    rows, limits = run()
    assert rows["Kafka brokers"].cores == pytest.approx(0.9)          # 10,000 × 30 µs × RF 3
    assert rows["Kafka brokers"].storage == pytest.approx(10_000 * 50 * 168 * 3600 * 3)
    assert rows["count-analysis-service"].cores == pytest.approx(0.05 + 0.01)  # per event + at rest
    assert rows["count-analysis-service"].memory == 30000 * 1024
    assert rows["Kafka brokers"].memory == 3 * 400000 * 1024
    pg = rows["PostgreSQL history"]
    assert pg.cores == pytest.approx(0.25)
    minutes, hours = 10 * 1440, 10 * 24
    rollups = 1_000 * (minutes * 80 + hours * (90 + 600))
    event_ids = 10_000 * 10 * 86_400 * 100                           # kept as long as the history
    assert pg.storage == pytest.approx(rollups + event_ids)
    short, _ = run(event_id_days=1.0)                                  # kept only a day
    assert short["PostgreSQL history"].storage == pytest.approx(rollups + event_ids / 10)
    assert limits["one relay thread (one process may lead every stream)"].ceiling == pytest.approx(50_000)  # 0.6 / 12 µs


def test_live_updates_need_replicas_by_streams_and_read_every_event():
    rows, limits = run()
    live = rows["dashboard-update-service"]
    assert live.instances == 2                                         # 15,000 streams / 10,000
    assert live.cores == pytest.approx(0.15 + 2 * 0.05)               # deliveries + 2 × every event
    assert live.memory == pytest.approx(15_000 * 10_000 + 2 * 16384 * 1024)
    assert limits["one live replica reading every event"].ceiling == pytest.approx(240_000)  # 1.2 / 5 µs


def test_first_bottleneck_is_the_lowest_headroom(capsys):
    capacity.main(["--workload", "product", "--results", str(FIXTURE), "--increments", "10000",
                   "--reads", "20000", "--counters", "1000000", "--active-per-minute", "1000",
                   "--viewers", "15000", "--retention-days", "10"])
    out = capsys.readouterr().out
    assert "First bottleneck: **one Redis primary, CPU** saturates first — at ~30,000 increments/s" in out
    assert "| count-write-service | built | 0.50 |" in out
    assert "Redis Cluster with 2 primaries (built" in out                 # built things are not "planned"
    assert "issue 17" not in out and "planned: Redis Cluster" not in out
    # 1 primary here: a sharded counter is shown on a cluster of 3 (the delivered one)
    assert ("One hot counter: ~60,000 increments/s as one key (10.0 µs each on its primary; more primaries "
            "do not help it); created `\"sharded\": true`, ~120,000/s on a cluster of 3 primaries") in out


def test_a_different_measurement_changes_the_answer(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    req = json.loads((tmp_path / "requests.json").read_text())
    req["scenarios"]["write_increment"]["cpu_us"]["redis_primary"] = 40
    (tmp_path / "requests.json").write_text(json.dumps(req))
    _, limits = run(results=tmp_path)
    assert limits["one Redis primary, CPU"].ceiling == pytest.approx(15_000)


def test_missing_results_name_the_command(tmp_path):
    with pytest.raises(SystemExit, match="bench/run.sh"):
        capacity.load_costs(tmp_path)


def test_a_pipeline_run_without_storage_figures_is_named(tmp_path):
    shutil.copytree(FIXTURE, tmp_path, dirs_exist_ok=True)
    pipe = json.loads((tmp_path / "pipeline.json").read_text())
    pipe["storage"] = None                                              # --footprint-counters 0
    (tmp_path / "pipeline.json").write_text(json.dumps(pipe))
    with pytest.raises(SystemExit, match="no storage figures.*--footprint-counters"):
        capacity.load_costs(tmp_path)


def test_prediction_of_the_pipeline_processes():
    costs = capacity.load_costs(FIXTURE)
    pipe = json.loads((FIXTURE / "pipeline.json").read_text())
    pred = capacity.predict_pipeline(costs, pipe, 5_000, 3)
    assert pred["count-analysis-service (all replicas)"] == pytest.approx(5_000 * 5e-6 + 3 * 0.01)
    assert pred["postgres"] == pytest.approx(5_000 * 25e-6 + 0.004)
    assert pred["kafka"] == pytest.approx(5_000 * 20e-6 + 0.1)


def test_history_per_year():
    year = capacity.history_per_year(WORKLOAD, capacity.load_costs(FIXTURE))
    assert year["minute rollups"] == pytest.approx(1_000 * 525_600 * 80)
    assert year["hour rollups and packed hours"] == pytest.approx(1_000 * 8_760 * 690)
    assert year["event ids"] == pytest.approx(10_000 * 365 * 86_400 * 100)


def test_downsampled_minutes_keep_only_the_hours_past_their_window():
    rows, _ = run(event_id_days=0.0, minute_days=2.0)
    # 2 days of minute rows, the whole 10 days of hour and packed-hour rows, no event ids
    assert rows["PostgreSQL history"].storage == pytest.approx(1_000 * (2 * 1440 * 80 + 10 * 24 * (90 + 600)))
