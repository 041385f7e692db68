//! Flow ids mapped to their check implementations, validated against core's declaration when
//! registered: every declared check implemented once, nothing extra, dependencies declared and
//! acyclic. A registry that exists is a registry the engine can execute.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use verdict_core::domain::{CheckDescriptor, CheckKey, FlowDescriptor, FlowId};

use super::{Check, Dependency};

/// Why a flow could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The flow was registered before.
    #[error("flow {0} is registered twice")]
    DuplicateFlow(FlowId),
    /// A declared check has no implementation.
    #[error("flow {flow}: check {key} is declared but not implemented")]
    MissingCheck {
        /// The flow.
        flow: FlowId,
        /// The check.
        key: CheckKey,
    },
    /// An implementation the flow does not declare, or one implemented twice.
    #[error("flow {flow}: check {key} is implemented but not declared, or implemented twice")]
    UnexpectedCheck {
        /// The flow.
        flow: FlowId,
        /// The check.
        key: CheckKey,
    },
    /// A dependency on a check the flow does not declare.
    #[error("flow {flow}: check {key} depends on {dependency}, which the flow does not declare")]
    UnknownDependency {
        /// The flow.
        flow: FlowId,
        /// The check.
        key: CheckKey,
        /// The missing dependency.
        dependency: CheckKey,
    },
    /// The dependencies form a cycle through this check.
    #[error("flow {flow}: the dependencies of check {key} form a cycle")]
    Cycle {
        /// The flow.
        flow: FlowId,
        /// A check on the cycle.
        key: CheckKey,
    },
}

/// One check of a registered flow, in declaration order, with its dependencies as indices.
pub(crate) struct PlannedCheck {
    pub check: Arc<dyn Check>,
    pub declared: CheckDescriptor,
    pub dependencies: Vec<(usize, Dependency)>,
}

/// A registered flow.
pub(crate) struct FlowPlan {
    pub descriptor: FlowDescriptor,
    pub checks: Vec<PlannedCheck>,
}

/// The flows this runner can execute.
#[derive(Default)]
pub struct FlowRegistry {
    flows: BTreeMap<FlowId, Arc<FlowPlan>>,
}

impl FlowRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `checks` as the implementation of the declared flow.
    ///
    /// # Errors
    /// [`RegistryError`] when the checks do not match the declaration one to one, a dependency
    /// is undeclared or cyclic, or the flow is registered already.
    pub fn register(mut self, declared: &FlowDescriptor, checks: Vec<Arc<dyn Check>>) -> Result<Self, RegistryError> {
        let flow = || declared.id.clone();
        if self.flows.contains_key(&declared.id) {
            return Err(RegistryError::DuplicateFlow(flow()));
        }
        let index: BTreeMap<&CheckKey, usize> = declared.checks.iter().enumerate().map(|(i, c)| (&c.key, i)).collect();
        let mut by_slot: Vec<Option<Arc<dyn Check>>> = vec![None; declared.checks.len()];
        for check in checks {
            let slot = index.get(check.key()).and_then(|i| by_slot.get_mut(*i));
            match slot {
                Some(slot @ None) => *slot = Some(check),
                _ => return Err(RegistryError::UnexpectedCheck { flow: flow(), key: check.key().clone() }),
            }
        }
        let mut planned = Vec::with_capacity(declared.checks.len());
        for (declared_check, check) in declared.checks.iter().zip(by_slot) {
            let check =
                check.ok_or_else(|| RegistryError::MissingCheck { flow: flow(), key: declared_check.key.clone() })?;
            let dependencies = check
                .waits_for()
                .iter()
                .map(|dependency| {
                    let found = index.get(&dependency.key).copied();
                    found.map(|i| (i, dependency.clone())).ok_or_else(|| RegistryError::UnknownDependency {
                        flow: flow(),
                        key: declared_check.key.clone(),
                        dependency: dependency.key.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            planned.push(PlannedCheck { check, declared: declared_check.clone(), dependencies });
        }
        if let Some(on_cycle) = first_on_cycle(&planned) {
            return Err(RegistryError::Cycle { flow: flow(), key: planned[on_cycle].declared.key.clone() });
        }
        self.flows.insert(declared.id.clone(), Arc::new(FlowPlan { descriptor: declared.clone(), checks: planned }));
        Ok(self)
    }

    /// The ids of the registered flows.
    pub fn flows(&self) -> impl Iterator<Item = &FlowId> {
        self.flows.keys()
    }

    /// Whether the registry runs exactly this declaration of its flow.
    #[must_use]
    pub fn implements(&self, declared: &FlowDescriptor) -> bool {
        self.flows.get(&declared.id).is_some_and(|plan| plan.descriptor == *declared)
    }

    pub(crate) fn plan(&self, flow: &FlowId) -> Option<Arc<FlowPlan>> {
        self.flows.get(flow).cloned()
    }
}

/// A check that can never become ready (Kahn's algorithm), if any.
fn first_on_cycle(checks: &[PlannedCheck]) -> Option<usize> {
    let mut done = BTreeSet::new();
    loop {
        let ready: Vec<usize> = (0..checks.len())
            .filter(|i| !done.contains(i) && checks[*i].dependencies.iter().all(|(d, _)| done.contains(d)))
            .collect();
        if ready.is_empty() {
            return (0..checks.len()).find(|i| !done.contains(i));
        }
        done.extend(ready);
    }
}

impl fmt::Debug for FlowRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.flows.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use verdict_core::domain::{CheckTitle, Severity};

    use super::*;
    use crate::engine::{CheckContext, CheckOutcome};

    struct Stub(CheckKey, Vec<Dependency>);

    #[async_trait]
    impl Check for Stub {
        fn key(&self) -> &CheckKey {
            &self.0
        }
        fn waits_for(&self) -> &[Dependency] {
            &self.1
        }
        async fn run(&self, _: &CheckContext) -> anyhow::Result<CheckOutcome> {
            Ok(CheckOutcome::pass("ok"))
        }
    }

    fn key(k: &str) -> CheckKey {
        CheckKey::parse(k).unwrap()
    }

    fn stub(k: &str, deps: &[&str]) -> Arc<dyn Check> {
        Arc::new(Stub(key(k), deps.iter().map(|d| Dependency::passed(key(d))).collect()))
    }

    fn flow(keys: &[&str]) -> FlowDescriptor {
        FlowDescriptor {
            id: FlowId::parse("test.flow").unwrap(),
            requires_provider_connection: false,
            checks: keys
                .iter()
                .map(|k| CheckDescriptor {
                    key: key(k),
                    title: CheckTitle::parse("t").unwrap(),
                    severity: Severity::Low,
                    blocking: false,
                })
                .collect(),
        }
    }

    #[test]
    fn a_matching_acyclic_flow_registers() {
        let registry =
            FlowRegistry::new().register(&flow(&["a", "b"]), vec![stub("b", &["a"]), stub("a", &[])]).unwrap();
        let plan = registry.plan(&FlowId::parse("test.flow").unwrap()).unwrap();
        assert_eq!(plan.checks[1].dependencies[0].0, 0, "checks are kept in declaration order");
        let again = registry.register(&flow(&["a"]), vec![stub("a", &[])]).unwrap_err();
        assert!(matches!(again, RegistryError::DuplicateFlow(_)));
    }

    #[test]
    fn mismatches_with_the_declaration_are_refused() {
        let register = |keys: &[&str], checks| FlowRegistry::new().register(&flow(keys), checks).unwrap_err();
        assert!(matches!(register(&["a", "b"], vec![stub("a", &[])]), RegistryError::MissingCheck { .. }));
        assert!(matches!(
            register(&["a"], vec![stub("a", &[]), stub("x", &[])]),
            RegistryError::UnexpectedCheck { .. }
        ));
        assert!(matches!(
            register(&["a"], vec![stub("a", &[]), stub("a", &[])]),
            RegistryError::UnexpectedCheck { .. }
        ));
        assert!(matches!(register(&["a"], vec![stub("a", &["x"])]), RegistryError::UnknownDependency { .. }));
        assert!(matches!(
            register(&["a", "b"], vec![stub("a", &["b"]), stub("b", &["a"])]),
            RegistryError::Cycle { .. }
        ));
        assert!(matches!(register(&["a"], vec![stub("a", &["a"])]), RegistryError::Cycle { .. }));
    }
}
