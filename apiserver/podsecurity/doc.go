// Package podsecurity is Skiff's Pod Security Admission: the Baseline and
// Restricted levels of the Kubernetes Pod Security Standards
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
// applied per namespace through the labels kube-apiserver's PodSecurity
// admission plugin reads:
//
//	pod-security.kubernetes.io/enforce           privileged | baseline | restricted
//	pod-security.kubernetes.io/enforce-version   latest | v1.<minor>
//	pod-security.kubernetes.io/warn, warn-version, audit, audit-version
//
// # What it decides
//
// Check evaluates one pod spec (with its metadata, for the annotation-based
// controls) against one level and version and returns the controls it
// violates, worded and ordered as upstream words and orders them, so that
// kubectl prints what a Kubernetes user expects:
//
//	pods "x" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "sock"), privileged (container "c" must not set securityContext.privileged=true)
//
// Config.AdmitPod, AdmitWorkload and AdmitNamespace are the three admission
// decisions built on it, following k8s.io/pod-security-admission/admission:
//
//   - Pods: enforce refuses (the API server answers 403 Forbidden); warn adds
//     a "would violate PodSecurity" warning. An update is evaluated only when
//     it changes what upstream calls significant (container images, the number
//     of containers, ephemeral containers, seccomp annotations); the rest of a
//     pod's spec is immutable, which pod update validation enforces.
//   - Workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
//     and ReplicationController/PodTemplate should they be served): never
//     refused — their pods are, when a controller creates them — but warn
//     applies to their pod template.
//   - Namespaces: invalid pod-security labels are refused (422, as upstream);
//     tightening enforce warns about existing pods that would not be admitted.
//
// audit is parsed and validated like the other modes, but evaluates nothing:
// Skiff has no audit log to annotate yet.
//
// # Where Skiff differs from upstream, and why
//
//   - The default for a namespace without labels is baseline (enforce, warn
//     and audit), not privileged: Skiff runs pods as Docker containers on the
//     developer's own machine, where a privileged container or a hostPath
//     mount is the host. kube-system is exempt, as clusters commonly
//     configure it.
//   - No relaxation for pods with hostUsers: false, and no exemption of pods
//     with spec.os.name windows from the Restricted checks: Skiff's Docker
//     runtime gives pods no user namespace and runs every pod as a Linux
//     container, so either relaxation would admit a pod that then runs with
//     exactly the privileges the check exists to forbid.
//   - No exemptions by user or RuntimeClass: Skiff's own controllers create
//     pods through the API and must be held to the namespace's policy.
//
// There is deliberately no allow-list of hostPath paths: a path can name the
// Docker socket in many spellings (/var/run/docker.sock, /run/docker.sock
// through the /var/run symlink, a parent directory such as /var/run or /),
// and admission cannot resolve symlinks on the node, so any hostPath is
// refused below privileged.
//
// # Boundaries
//
// The package is pure: it reads the objects it is given and does no I/O.
// Only package apiserver imports it; it calls the Admit functions from its
// admission step with the namespace (and, for AdmitNamespace, the pods)
// read from its cache, and turns a Decision into a 403 Status and Warning
// headers.
package podsecurity
