output "alert_policies" {
  description = "name => alert policy id."
  value = {
    dead_letters = google_monitoring_alert_policy.dead_letters.name
    stuck_runs   = google_monitoring_alert_policy.stuck_runs.name
  }
}
