//! The last phases, once the template is final: the functions spawned, the watchers (agents,
//! OneAgent stand-in, worker triggers), the self-healing lane and the pipeline's executor.

use super::*;

/// Everything the last phases read, once the stack's template is final.
pub(crate) struct Running<'a> {
    pub(crate) run: &'a Run,
    pub(crate) emulators: &'a Emulators,
    pub(crate) aws: &'a MotoResources,
    pub(crate) stack: &'a Template,
    pub(crate) fleet: &'a Fleet,
    pub(crate) runtimes: &'a FunctionRuntimes,
}

/// The function processes, and the functions as the pipeline invokes them.
pub(crate) struct Functions {
    pub(crate) processes: Vec<FunctionProcess>,
    pub(crate) invocable: BTreeMap<String, executor::LocalFunction>,
}

/// The background tasks that watch and drive the hosts, with what the self-healing lane
/// shares with them.
pub(crate) struct Watchers {
    pub(crate) tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Variables every hook and instance gets.
    pub(crate) base_env: Vec<(String, String)>,
    /// The app directories the OneAgent stand-in watches.
    pub(crate) agent_dirs: oneagent::AppDirs,
    /// The OneAgent stand-in's problem detection switch.
    pub(crate) detection: Arc<AtomicBool>,
}

/// The self-healing lane's parts, once all have started.
pub(crate) struct HealingLane<'a> {
    pub(crate) key: &'a LaneKey,
    pub(crate) files: &'a self_healing::LaneFiles,
    pub(crate) services: HealingServices,
    pub(crate) alertmanager: AlertmanagerServer,
    pub(crate) balancer: Arc<balancer::Balancer>,
}

impl Running<'_> {
    /// Each function's binary polling its runtime emulator, with the template's environment
    /// and the local overrides.
    pub(crate) fn spawn_functions(
        &self,
        binaries: &Path,
        healing: bool,
        alertmanager: Option<&AlertmanagerServer>,
    ) -> anyhow::Result<Functions> {
        let mut processes = vec![];
        let mut invocable = BTreeMap::new();
        for f in FUNCTIONS {
            let mut env: Vec<(String, String)> = self.stack.function_environment(f)?;
            let overrides = self.function_overrides(f, &env, healing, alertmanager);
            for (k, v) in overrides {
                env.retain(|(key, _)| key != k);
                env.push((k.to_string(), v));
            }
            let env_refs: Vec<(&str, String)> =
                env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let emulator = &self.runtimes.emulators[f];
            let process =
                FunctionProcess::spawn(&binaries.join(f), &emulator.runtime_api(), &env_refs)
                    .with_context(|| format!("cannot start {f}"))?;
            processes.push(process);
            invocable.insert(
                f.to_string(),
                executor::LocalFunction {
                    emulator: emulator.clone(),
                    timeout: self.stack.function_timeout(f)?,
                },
            );
        }
        Ok(Functions {
            processes,
            invocable,
        })
    }

    /// Where the local stack differs from AWS: endpoints, URLs, compressed time.
    fn function_overrides(
        &self,
        f: &str,
        env: &[(String, String)],
        healing: bool,
        alertmanager: Option<&AlertmanagerServer>,
    ) -> Vec<(&'static str, String)> {
        let gateway = &self.runtimes.gateway;
        let mut overrides = vec![
            ("AWS_ENDPOINT_URL", self.emulators.moto.endpoint.clone()),
            (
                "AWS_ENDPOINT_URL_CODEPIPELINE",
                self.emulators.fake.endpoint.clone(),
            ),
            (
                "AWS_ENDPOINT_URL_CODEDEPLOY",
                self.emulators.fake.endpoint.clone(),
            ),
            ("RUST_LOG", "warn".into()),
            (RUN_MARKER, self.run.marker.clone()),
        ];
        let has = |key: &str| env.iter().any(|(k, _)| k == key);
        if has("REPORT_URL") {
            overrides.push(("REPORT_URL", gateway.url(REPORT_PATH)));
        }
        if has("PROBLEM_HANDLER_URL") {
            overrides.push(("PROBLEM_HANDLER_URL", gateway.url(PROBLEM_PATH)));
        }
        if f == "validate-build-worker" {
            overrides.push(("WORKER_RECHECK_SECONDS", "1".into()));
            overrides.push(("WORKER_LEASE_SECONDS", "60".into()));
            // The wait's window is judged after the ingestion delay, compressed like the
            // validations' (the self-healing lane is judged by the local Prometheus, which
            // scrapes every second: one scrape and one more).
            overrides.push(("REMEDIATION_EVALUATION_DELAY_SECONDS", "2".into()));
            if healing {
                // Seconds where AWS has minutes; the same code path.
                overrides.push(("REMEDIATION_POLL_SECONDS", "1".into()));
                overrides.push(("REMEDIATION_COOLDOWN_SECONDS", "1".into()));
                overrides.push(("REMEDIATION_MAX_ACTIONS_PER_HOUR", "30".into()));
                overrides.push(("REMEDIATION_ACTION_TIMEOUT_SECONDS", "60".into()));
            }
            // Alerts are confirmed with the local Alertmanager before their actions run,
            // as in AWS with ALERTMANAGER_URL set.
            if let Some(am) = alertmanager {
                overrides.push(("ALERTMANAGER_URL", am.url.clone()));
            }
        }
        if f == "push-deployment-event" {
            overrides.push(("EVENT_RETRY_SECONDS", "0.5".into()));
        }
        if f == "register-build-validation" {
            // Compressed like the windows: the simulator has a second's data at once,
            // the local Prometheus scrapes every second (one scrape and one more).
            overrides.push(("INGESTION_DELAY_DYNATRACE_SECONDS", "1".into()));
            overrides.push(("INGESTION_DELAY_PROMETHEUS_SECONDS", "2".into()));
        }
        overrides
    }

    /// The CodeDeploy agent on the hosts, the OneAgent stand-in watching their apps, and the
    /// worker's schedule and wake-queue subscription.
    pub(crate) fn start_watchers(
        &self,
        healing: Option<&HealingServices>,
    ) -> anyhow::Result<Watchers> {
        let base_env = self.host_environment(healing);
        let mut tasks = vec![self.start_agent(&base_env)];
        let (oneagent, agent_dirs, detection) = self.start_oneagent();
        tasks.push(oneagent);
        tasks.extend(self.start_worker_triggers()?);
        Ok(Watchers {
            tasks,
            base_env,
            agent_dirs,
            detection,
        })
    }

    /// Variables every hook and every instance gets besides its own.
    fn host_environment(&self, healing: Option<&HealingServices>) -> Vec<(String, String)> {
        let mut base_env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            (
                "HOME".to_string(),
                std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()),
            ),
            (RUN_MARKER.to_string(), self.run.marker.clone()),
            (
                "LATENCY_SCALE".to_string(),
                self.run.options.latency_scale.to_string(),
            ),
        ];
        if let Some(HealingServices { unleash, .. }) = healing {
            base_env.push(("APP_SLOTS".to_string(), self_healing::APP_SLOTS.to_string()));
            base_env.push(("UNLEASH_URL".to_string(), unleash.url.clone()));
            base_env.push((
                "UNLEASH_CLIENT_TOKEN".to_string(),
                unleash.backend_token().to_string(),
            ));
        }
        base_env
    }

    fn start_agent(&self, base_env: &[(String, String)]) -> tokio::task::JoinHandle<()> {
        let host_of = &self.fleet.host_of;
        let mut agent = agent::Agent::new(
            self.emulators.fake.clone(),
            self.aws.s3.clone(),
            host_of.clone(),
            base_env.to_vec(),
            self.run.progress.clone(),
        );
        if let Some(balancer) = &self.fleet.balancer {
            // Production traffic (the load test deployed beside the app) goes through the
            // balancer to every instance.
            let production = &host_of[self_healing::STAGE].name;
            for (group, host) in host_of {
                if &host.name == production {
                    agent.group_env.insert(
                        group.clone(),
                        vec![("TARGET_URL".to_string(), balancer.url())],
                    );
                }
            }
        }
        tokio::spawn(agent.run())
    }

    /// The OneAgent stand-in, with the app directories it watches and its detection switch.
    fn start_oneagent(
        &self,
    ) -> (
        tokio::task::JoinHandle<()>,
        oneagent::AppDirs,
        Arc<AtomicBool>,
    ) {
        let options = &self.run.options;
        let app_dirs: Vec<PathBuf> = self.fleet.hosts.values().map(|h| h.app_dir()).collect();
        let oneagent = oneagent::OneAgent::new(
            self.emulators.dynatrace.world.clone(),
            app_dirs,
            oneagent::ProblemRule {
                tag: ("DeploymentGroup".into(), "Production".into()),
                threshold_ms: options.threshold_ms,
                interval: options.problem_interval,
                intervals: options.problem_intervals,
            },
            oneagent::Webhook {
                url: self.runtimes.gateway.url(PROBLEM_PATH),
                secret_header: SECRET_HEADER.into(),
                secret: self.aws.webhook_secret.clone(),
            },
            self.run.progress.clone(),
        );
        let (agent_dirs, detection) = (oneagent.app_dirs.clone(), oneagent.detection.clone());
        (tokio::spawn(oneagent.run()), agent_dirs, detection)
    }

    /// The worker on its schedule, as EventBridge invokes it, and subscribed to the wake
    /// queue.
    fn start_worker_triggers(&self) -> anyhow::Result<[tokio::task::JoinHandle<()>; 2]> {
        let worker = self.runtimes.emulators["validate-build-worker"].clone();
        let tick = self.run.options.tick;
        let worker_timeout = self.stack.function_timeout("validate-build-worker")?;
        let schedule = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(tick);
            loop {
                ticker.tick().await;
                let event = json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012", "time": "2026-11-21T00:00:00Z", "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/unbreakable-local-worker"], "detail": {}});
                let _ = worker.invoke(event, worker_timeout).await;
            }
        });
        let subscription = wake_queue::WakeSubscription {
            sqs: self.aws.sqs.clone(),
            queue_url: self.aws.wake_queue_url.clone(),
            worker: self.runtimes.emulators["validate-build-worker"].clone(),
            timeout: worker_timeout,
            stats: Default::default(),
        };
        Ok([schedule, tokio::spawn(subscription.run())])
    }

    /// The pipeline's executor: it releases builds and invokes the functions as CodePipeline
    /// would.
    pub(crate) fn executor(
        &self,
        pipeline: &PipelineSpec,
        functions: BTreeMap<String, executor::LocalFunction>,
    ) -> executor::Executor {
        executor::Executor {
            fake: self.emulators.fake.clone(),
            s3: self.aws.s3.clone(),
            pipeline: pipeline.clone(),
            artifact_bucket: ARTIFACT_BUCKET.into(),
            functions,
            progress: self.run.progress.clone(),
            approval_timeout: self.run.options.window * 4 + Duration::from_secs(120),
        }
    }

    /// The lane's files stored, the Auto Scaling stand-in and the timeline printer started:
    /// the handles a self-healing scenario turns.
    pub(crate) async fn start_self_healing(
        &self,
        lane: HealingLane<'_>,
        watchers: &mut Watchers,
    ) -> anyhow::Result<self_healing::SelfHealing> {
        let HealingLane {
            key: lane,
            files,
            services,
            alertmanager,
            balancer,
        } = lane;
        let HealingServices {
            unleash,
            alertmanager_secret,
            autoscaling,
        } = services;
        let (progress, gateway) = (&self.run.progress, &self.runtimes.gateway);
        let store = unbreakable_shared::aws::dynamodb::DynamoValidationStore::new(
            aws_sdk_dynamodb::Client::new(&self.aws.sdk),
            TABLE,
        );
        files.store(&store, lane).await?;
        watchers.tasks.push(tokio::spawn(
            self_healing::Reconciler {
                autoscaling: autoscaling.clone(),
                fake: self.emulators.fake.clone(),
                application: self.fleet.application.clone(),
                host: self.fleet.host_of[self_healing::STAGE].clone(),
                extra_ports: self.fleet.extra_ports.clone(),
                dir: self.fleet.workdir.join("fleet"),
                balancer: balancer.clone(),
                app_dirs: watchers.agent_dirs.clone(),
                env: watchers.base_env.clone(),
                progress: progress.clone(),
            }
            .run(),
        ));
        let timeline_url = gateway.url(&format!("{}?json=true", TIMELINE_PATH));
        watchers
            .tasks
            .push(tokio::spawn(self_healing::print_timeline(
                timeline_url.clone(),
                progress.clone(),
            )));
        progress.send(Progress::Setup(format!(
            "self-healing: lane {lane} with {}, group {} (MaxSize {}), balancer {}, Unleash {}, timeline at {}",
            self.run.options.self_healing.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
            self_healing::AUTO_SCALING_GROUP,
            self_healing::MAX_SIZE,
            balancer.url(),
            unleash.url,
            gateway.url(TIMELINE_PATH)
        )));
        Ok(self_healing::SelfHealing {
            lane: lane.clone(),
            unleash,
            alertmanager,
            alertmanager_secret,
            balancer,
            autoscaling,
            detection: watchers.detection.clone(),
            timeline_url,
            alertmanager_webhook_url: gateway.url(ALERTMANAGER_PATH),
            marker: self.run.marker.clone(),
            http: reqwest::Client::new(),
        })
    }
}
