"""The alerting maths with hand-worked numbers: the seasonal median + MAD bound, the floors, the weeks a baseline
needs, budget forecasts and crossings, deterministic alert ids."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from shared.alerts import detect


def test_median_of_odd_and_even_counts():
    assert detect.median([D(3), D(1), D(2)]) == D(2)
    assert detect.median([D(4), D(1), D(3), D(2)]) == D("2.5")


def test_a_steady_baseline_is_bounded_by_the_floors():
    # sorted 10,10,10,10,10,10,11,12: median 10; deviations 0,0,0,0,0,0,1,2: MAD 0.
    # bound = max(10 + 0, 10 + 20 (absolute floor), 10 * 2 (relative floor)) = 30
    centre, bound = detect.anomaly_bound([D(10), D(10), D(12), D(10), D(11), D(10), D(10), D(10)])
    assert (centre, bound) == (D(10), D(30))


def test_a_noisy_baseline_is_bounded_by_its_mad():
    # sorted 60,80,90,100,100,120,140,160: median 100; deviations sorted 0,0,10,20,20,40,40,60: MAD 20.
    # 100 + 5 * 1.4826 * 20 = 248.26, above both floors (120 and 200).
    centre, bound = detect.anomaly_bound([D(v) for v in (100, 160, 60, 140, 80, 100, 120, 90)])
    assert (centre, bound) == (D(100), D("248.26"))


def test_a_large_steady_spend_needs_to_double_to_alert():
    # median 1000, MAD 0: the relative floor (2000) is above the absolute one (1020).
    assert detect.anomaly_bound([D(1000)] * 8) == (D(1000), D(2000))


def _series(days: int, cost: str, last: date, provider="OpenAI", service="GPT", currency="USD") -> list[dict]:
    return [
        {"day": last - timedelta(days=n), "provider": provider, "service": service, "currency": currency,
         "cost": D(cost)}
        for n in range(days)
    ]  # fmt: skip


def test_a_spike_on_the_last_day_is_found_and_only_it():
    last = date(2026, 11, 30)
    rows = [row for row in _series(60, "10.00", last) if row["day"] != last]
    rows.append({"day": last, "provider": "OpenAI", "service": "GPT", "currency": "USD", "cost": D("30.01")})
    found = detect.find_anomalies(rows, last - timedelta(days=6), last)
    assert [(a.day, a.cost, a.median, a.bound) for a in found] == [(last, D("30.01"), D(10), D(30))]


def test_a_day_at_the_bound_is_not_anomalous():
    last = date(2026, 11, 30)
    rows = [row for row in _series(60, "10.00", last) if row["day"] != last]
    rows.append({"day": last, "provider": "OpenAI", "service": "GPT", "currency": "USD", "cost": D("30.00")})
    assert detect.find_anomalies(rows, last, last) == []


def test_fewer_than_four_weeks_of_history_raise_nothing():
    last = date(2026, 11, 30)
    rows = _series(27, "10.00", last - timedelta(days=1))  # three same-weekday weeks before `last`
    rows.append({"day": last, "provider": "OpenAI", "service": "GPT", "currency": "USD", "cost": D(1000)})
    assert detect.find_anomalies(rows, last, last) == []
    rows += _series(1, "10.00", last - timedelta(days=28))  # the fourth week
    assert [a.day for a in detect.find_anomalies(rows, last, last)] == [last]


def test_currencies_and_services_are_separate_series():
    last = date(2026, 11, 30)
    rows = _series(60, "10", last, currency="USD") + _series(60, "10", last, currency="EUR")
    rows = [r for r in rows if not (r["day"] == last and r["currency"] == "EUR")]
    rows.append({"day": last, "provider": "OpenAI", "service": "GPT", "currency": "EUR", "cost": D(100)})
    found = detect.find_anomalies(rows, last, last)
    assert [(a.currency, a.cost) for a in found] == [("EUR", D(100))]


def test_weeks_without_rows_count_as_zero_after_the_first_seen_day():
    # Same weekday: 8 weeks of 10 except two weeks with no row (0): sorted 0,0,10,10,10,10,10,10 → median 10,
    # deviations 10,10,0,0,0,0,0,0 → MAD 0: bound 30, so 31 is anomalous.
    last = date(2026, 11, 30)
    rows = [r for r in _series(57, "10", last - timedelta(days=1)) if r["day"] not in
            (last - timedelta(weeks=2), last - timedelta(weeks=5))]  # fmt: skip
    rows.append({"day": last, "provider": "OpenAI", "service": "GPT", "currency": "USD", "cost": D(31)})
    assert [(a.median, a.bound) for a in detect.find_anomalies(rows, last, last)] == [(D(10), D(30))]


def test_months_and_forecast():
    assert detect.months_between(date(2026, 10, 25), date(2026, 12, 2)) == [
        date(2026, 10, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    # 300 in the first 10 days of a 30-day month: 900 at that rate; a full month forecasts itself.
    assert detect.forecast(D(300), date(2026, 11, 1), date(2026, 11, 10)) == D(900)
    assert detect.forecast(D("123.45"), date(2026, 11, 1), date(2026, 11, 30)) == D("123.45")


def test_crossed_thresholds_compare_actual_and_forecast():
    thresholds = [
        {"percent": 50, "basis": "actual"},
        {"percent": 100, "basis": "actual"},
        {"percent": 100, "basis": "forecast"},
    ]
    # amount 1000: actual 500 reaches 50 % (500 >= 500), not 100 %; the forecast 1000 reaches 100 %.
    assert detect.crossed(thresholds, D(1000), D(500), D(1000)) == [thresholds[0], thresholds[2]]
    assert detect.crossed(thresholds, D(1000), D("499.99"), D("999.99")) == []


def test_alert_ids_are_deterministic_and_distinct():
    one = detect.alert_id("acme", "budget", "bud_1", "2026-11", "100:actual")
    assert one == detect.alert_id("acme", "budget", "bud_1", "2026-11", "100:actual")
    others = {
        detect.alert_id("other", "budget", "bud_1", "2026-11", "100:actual"),
        detect.alert_id("acme", "budget", "bud_1", "2026-12", "100:actual"),
        detect.alert_id("acme", "budget", "bud_1", "2026-11", "100:forecast"),
        detect.alert_id("acme", "anomaly", "bud_1", "2026-11", "100:actual"),
    }
    assert one not in others and len(others) == 4 and one.startswith("alr_") and len(one) == 28
