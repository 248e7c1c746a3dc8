# The pipeline configs are the single source of truth: schedules and provider functions are derived from them.
locals {
  files   = fileset(var.config_dir, "pipelines/*/*/*.yml")
  configs = { for file in local.files : file => yamldecode(file("${var.config_dir}/${file}")) }

  # One Cloud Scheduler job per config that carries a `schedule` block (defaults as in shared/worker/pipelines.py).
  scheduled_jobs = {
    for file, config in local.configs : config.pipeline_id => {
      job_id    = replace(config.pipeline_id, "/", "-")
      cron      = config.schedule.cron
      time_zone = try(config.schedule.time_zone, "UTC")
      date      = try(config.schedule.date, "yesterday")
    } if try(config.schedule, null) != null
  }

  # Every provider with a pipeline gets a CloudEvent function of the same name (functions/<provider>/main.py).
  providers = toset([for file, config in local.configs : config.provider])
}
