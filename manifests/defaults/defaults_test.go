package defaults_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/manifests/defaults"
)

func decode[T any](t *testing.T, manifest string) *T {
	t.Helper()
	obj := new(T)
	if err := yaml.UnmarshalStrict([]byte(manifest), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// check compares one defaulted field with what Kubernetes v1.33 shows.
type check struct {
	field     string
	got, want any
}

func verify(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		if !apiequality.Semantic.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
}

const minimalPod = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  initContainers:
  - name: init
    image: busybox:1.36
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
    env:
    - name: NODE
      valueFrom:
        fieldRef: {fieldPath: spec.nodeName}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
    livenessProbe:
      httpGet: {port: 80}
    readinessProbe:
      grpc: {port: 9090}
    lifecycle:
      preStop:
        httpGet: {port: 80, path: /drain}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
  volumes:
  - name: cfg
    configMap: {name: web}
  - name: secret
    secret: {secretName: web}
  - name: info
    downwardAPI:
      items:
      - path: name
        fieldRef: {fieldPath: metadata.name}
  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: token}
  - name: scratch
  - name: host
    hostPath: {path: /var/log}
`

func TestPodDefaults(t *testing.T) {
	p := decode[corev1.Pod](t, minimalPod)
	defaults.Pod(p)
	c := p.Spec.Containers[0]
	v := p.Spec.Volumes
	verify(t, []check{
		{"restartPolicy", p.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", p.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", p.Spec.SchedulerName, "default-scheduler"},
		{"terminationGracePeriodSeconds", p.Spec.TerminationGracePeriodSeconds, ptr.To[int64](30)},
		{"securityContext", p.Spec.SecurityContext, &corev1.PodSecurityContext{}},
		{"enableServiceLinks", p.Spec.EnableServiceLinks, ptr.To(true)},
		{"imagePullPolicy of an untagged image", c.ImagePullPolicy, corev1.PullAlways},
		{"imagePullPolicy of a tagged image", p.Spec.InitContainers[0].ImagePullPolicy, corev1.PullIfNotPresent},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"init terminationMessagePolicy", p.Spec.InitContainers[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"requests copied from limits", c.Resources.Requests, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
		{"probe timeoutSeconds", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe periodSeconds", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"probe successThreshold", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failureThreshold", c.LivenessProbe.FailureThreshold, int32(3)},
		{"probe httpGet path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"probe httpGet scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"grpc service", c.ReadinessProbe.GRPC.Service, ptr.To("")},
		{"lifecycle httpGet scheme", c.Lifecycle.PreStop.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"lifecycle httpGet path kept", c.Lifecycle.PreStop.HTTPGet.Path, "/drain"},
		{"configMap defaultMode", v[0].ConfigMap.DefaultMode, ptr.To[int32](0644)},
		{"secret defaultMode", v[1].Secret.DefaultMode, ptr.To[int32](0644)},
		{"downwardAPI defaultMode", v[2].DownwardAPI.DefaultMode, ptr.To[int32](0644)},
		{"downwardAPI fieldRef apiVersion", v[2].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"projected defaultMode", v[3].Projected.DefaultMode, ptr.To[int32](0644)},
		{"token expirationSeconds", v[3].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds, ptr.To[int64](3600)},
		{"volume without source", v[4].VolumeSource, corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{"hostPath type", v[5].HostPath.Type, ptr.To(corev1.HostPathUnset)},
		{"phase", p.Status.Phase, corev1.PodPending},
		// The init container has no resources, so the pod is not Guaranteed.
		{"qosClass", p.Status.QOSClass, corev1.PodQOSBurstable},
	})
}

func TestPodOnHostNetworkGetsHostPorts(t *testing.T) {
	p := decode[corev1.Pod](t, minimalPod)
	p.Spec.HostNetwork = true
	defaults.Pod(p)
	if got := p.Spec.Containers[0].Ports[0].HostPort; got != 80 {
		t.Fatalf("hostPort = %d, want the containerPort 80", got)
	}
}

// A pod template in a workload gets the PodSpec defaults only: the
// Pod-only ones appear when the controller creates the Pod.
func TestTemplatesGetNoPodOnlyDefaults(t *testing.T) {
	p := decode[corev1.Pod](t, minimalPod)
	p.Spec.HostNetwork = true
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: p.Spec}}}
	defaults.Deployment(d)
	s := d.Spec.Template.Spec
	verify(t, []check{
		{"enableServiceLinks", s.EnableServiceLinks, (*bool)(nil)},
		{"requests", s.Containers[0].Resources.Requests, corev1.ResourceList(nil)},
		{"hostPort", s.Containers[0].Ports[0].HostPort, int32(0)},
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"imagePullPolicy", s.Containers[0].ImagePullPolicy, corev1.PullAlways},
	})
}

// A fully specified pod comes out of defaulting unchanged.
func TestDefaultsNeverOverwrite(t *testing.T) {
	p := decode[corev1.Pod](t, `
metadata: {name: web, namespace: default}
spec:
  restartPolicy: Never
  dnsPolicy: Default
  schedulerName: bin-packer
  terminationGracePeriodSeconds: 5
  enableServiceLinks: false
  serviceAccountName: web
  serviceAccount: web
  securityContext: {runAsNonRoot: true}
  containers:
  - name: web
    image: nginx:latest
    imagePullPolicy: Never
    terminationMessagePath: /tmp/msg
    terminationMessagePolicy: FallbackToLogsOnError
    ports:
    - {containerPort: 53, protocol: UDP}
    env:
    - name: NS
      valueFrom:
        fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}
    resources:
      limits: {cpu: "1"}
      requests: {cpu: 100m}
    livenessProbe:
      httpGet: {port: 8080, path: /livez, scheme: HTTPS}
      timeoutSeconds: 3
      periodSeconds: 30
      successThreshold: 1
      failureThreshold: 9
  volumes:
  - name: cfg
    configMap: {name: web, defaultMode: 0400}
  - name: host
    hostPath: {path: /run, type: Directory}
status:
  phase: Running
  qosClass: Burstable
`)
	before := p.DeepCopy()
	defaults.Pod(p)
	if !apiequality.Semantic.DeepEqual(before, p) {
		t.Fatalf("defaulting changed values the client set:\nbefore %+v\nafter  %+v", before.Spec, p.Spec)
	}
}

func TestPullPolicyForImage(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                         corev1.PullAlways,
		"nginx:latest":                  corev1.PullAlways,
		"library/nginx":                 corev1.PullAlways,
		"docker.io/library/nginx":       corev1.PullAlways,
		"localhost:5000/app":            corev1.PullAlways,
		"registry.example.com/team/app": corev1.PullAlways,
		"nginx:1.27":                    corev1.PullIfNotPresent,
		"localhost:5000/app:v1":         corev1.PullIfNotPresent,
		"ghcr.io/org/app:sha-1234":      corev1.PullIfNotPresent,
		"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef":        corev1.PullIfNotPresent,
		"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": corev1.PullAlways,
		// Not references; kubelet sees no tag and so does not pull always.
		"NGINX":           corev1.PullIfNotPresent,
		"ghcr.io/Org/app": corev1.PullIfNotPresent,
		"":                corev1.PullIfNotPresent,
		"nginx:bad tag":   corev1.PullIfNotPresent,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": corev1.PullIfNotPresent,
	} {
		if got := defaults.PullPolicyForImage(image); got != want {
			t.Errorf("%q: got %s, want %s", image, got, want)
		}
	}
}

func TestPodQOSClass(t *testing.T) {
	res := func(limits, requests corev1.ResourceList) corev1.Container {
		return corev1.Container{Resources: corev1.ResourceRequirements{Limits: limits, Requests: requests}}
	}
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	for _, tc := range []struct {
		name       string
		containers []corev1.Container
		want       corev1.PodQOSClass
	}{
		{"nothing set", []corev1.Container{{}}, corev1.PodQOSBestEffort},
		{"equal requests and limits", []corev1.Container{res(list("1", "1Gi"), list("1", "1Gi"))}, corev1.PodQOSGuaranteed},
		{"requests below limits", []corev1.Container{res(list("1", "1Gi"), list("500m", "1Gi"))}, corev1.PodQOSBurstable},
		{"only memory limit", []corev1.Container{res(list("", "1Gi"), list("", "1Gi"))}, corev1.PodQOSBurstable},
		{"one best-effort container", []corev1.Container{res(list("1", "1Gi"), list("1", "1Gi")), {}}, corev1.PodQOSBurstable},
	} {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: tc.containers}}
		if got := defaults.PodQOSClass(p); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestServiceDefaults(t *testing.T) {
	cluster := decode[corev1.Service](t, `
spec:
  selector: {app: web}
  ports:
  - port: 80
  - port: 8443
    targetPort: https
`)
	defaults.Service(cluster)
	verify(t, []check{
		{"type", cluster.Spec.Type, corev1.ServiceTypeClusterIP},
		{"sessionAffinity", cluster.Spec.SessionAffinity, corev1.ServiceAffinityNone},
		{"port protocol", cluster.Spec.Ports[0].Protocol, corev1.ProtocolTCP},
		{"targetPort defaults to port", cluster.Spec.Ports[0].TargetPort, intstr.FromInt32(80)},
		{"named targetPort kept", cluster.Spec.Ports[1].TargetPort, intstr.FromString("https")},
		{"internalTrafficPolicy", cluster.Spec.InternalTrafficPolicy, ptr.To(corev1.ServiceInternalTrafficPolicyCluster)},
		{"ipFamilyPolicy", cluster.Spec.IPFamilyPolicy, ptr.To(corev1.IPFamilyPolicySingleStack)},
		{"externalTrafficPolicy", cluster.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")},
		{"no cluster IP invented", cluster.Spec.ClusterIPs, []string(nil)},
	})

	lb := decode[corev1.Service](t, `
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  ports: [{port: 443}]
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.1}]
`)
	defaults.Service(lb)
	verify(t, []check{
		{"externalTrafficPolicy", lb.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster},
		{"allocateLoadBalancerNodePorts", lb.Spec.AllocateLoadBalancerNodePorts, ptr.To(true)},
		{"ClientIP timeout", lb.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds, ptr.To[int32](10800)},
		{"ingress ipMode", lb.Status.LoadBalancer.Ingress[0].IPMode, ptr.To(corev1.LoadBalancerIPModeVIP)},
	})

	headless := decode[corev1.Service](t, `spec: {clusterIP: None}`)
	defaults.Service(headless)
	verify(t, []check{
		{"clusterIPs mirror clusterIP", headless.Spec.ClusterIPs, []string{"None"}},
		{"selectorless headless ipFamilyPolicy", headless.Spec.IPFamilyPolicy, ptr.To(corev1.IPFamilyPolicyRequireDualStack)},
	})

	ext := decode[corev1.Service](t, `spec: {type: ExternalName, externalName: db.example.com}`)
	defaults.Service(ext)
	verify(t, []check{
		{"ipFamilyPolicy", ext.Spec.IPFamilyPolicy, (*corev1.IPFamilyPolicy)(nil)},
		{"internalTrafficPolicy", ext.Spec.InternalTrafficPolicy, (*corev1.ServiceInternalTrafficPolicy)(nil)},
	})
}

func TestServiceForUpdate(t *testing.T) {
	stored := decode[corev1.Service](t, `
spec:
  type: NodePort
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  externalTrafficPolicy: Cluster
  selector: {app: web}
  ports:
  - {name: http, port: 80, nodePort: 30080, protocol: TCP, targetPort: 80}
`)
	defaults.Service(stored)

	// kubectl replace of the original manifest, which had none of the
	// allocated values: they are kept.
	replaced := decode[corev1.Service](t, `
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80}
`)
	defaults.Service(replaced)
	defaults.ServiceForUpdate(replaced, stored)
	verify(t, []check{
		{"clusterIP", replaced.Spec.ClusterIP, "10.96.0.20"},
		{"clusterIPs", replaced.Spec.ClusterIPs, []string{"10.96.0.20"}},
		{"ipFamilies", replaced.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}},
		{"nodePort", replaced.Spec.Ports[0].NodePort, int32(30080)},
	})

	// Switching to ClusterIP drops what only NodePort needed.
	toCluster := stored.DeepCopy()
	toCluster.Spec.Type = corev1.ServiceTypeClusterIP
	defaults.ServiceForUpdate(toCluster, stored)
	verify(t, []check{
		{"nodePort", toCluster.Spec.Ports[0].NodePort, int32(0)},
		{"externalTrafficPolicy", toCluster.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")},
		{"clusterIP kept", toCluster.Spec.ClusterIP, "10.96.0.20"},
	})

	// Switching to ExternalName drops the cluster IP and families.
	toExt := stored.DeepCopy()
	toExt.Spec.Type, toExt.Spec.ExternalName = corev1.ServiceTypeExternalName, "web.example.com"
	defaults.ServiceForUpdate(toExt, stored)
	verify(t, []check{
		{"clusterIP", toExt.Spec.ClusterIP, ""},
		{"clusterIPs", toExt.Spec.ClusterIPs, []string(nil)},
		{"ipFamilies", toExt.Spec.IPFamilies, []corev1.IPFamily(nil)},
		{"ipFamilyPolicy", toExt.Spec.IPFamilyPolicy, (*corev1.IPFamilyPolicy)(nil)},
	})

	// A node port the client asks for is the client's.
	moved := stored.DeepCopy()
	moved.Spec.Ports[0].NodePort = 30090
	defaults.ServiceForUpdate(moved, stored)
	if moved.Spec.Ports[0].NodePort != 30090 {
		t.Errorf("nodePort = %d, want the requested 30090", moved.Spec.Ports[0].NodePort)
	}
}

func TestNamespaceDefaults(t *testing.T) {
	ns := decode[corev1.Namespace](t, `metadata: {name: shop, labels: {team: commerce}}`)
	defaults.Namespace(ns)
	verify(t, []check{
		{"name label", ns.Labels, map[string]string{"team": "commerce", "kubernetes.io/metadata.name": "shop"}},
		{"finalizers", ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}},
		{"phase", ns.Status.Phase, corev1.NamespaceActive},
	})

	// The namespace controller removed the finalizer of a stored,
	// terminating namespace; defaulting must not bring it back.
	finalized := decode[corev1.Namespace](t, `
metadata: {name: shop, uid: 1f0c6c43-5c2a-4bfa-9a3e-3f7b1d0c2e10, resourceVersion: "812"}
status: {phase: Terminating}
`)
	defaults.Namespace(finalized)
	verify(t, []check{
		{"finalizers", finalized.Spec.Finalizers, []corev1.FinalizerName(nil)},
		{"phase", finalized.Status.Phase, corev1.NamespaceTerminating},
	})
}

func TestWorkloadDefaults(t *testing.T) {
	d := decode[appsv1.Deployment](t, `spec: {template: {spec: {containers: [{name: web, image: nginx:1.27}]}}}`)
	defaults.Deployment(d)
	verify(t, []check{
		{"replicas", d.Spec.Replicas, ptr.To[int32](1)},
		{"strategy type", d.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType},
		{"maxUnavailable", d.Spec.Strategy.RollingUpdate.MaxUnavailable, ptr.To(intstr.FromString("25%"))},
		{"maxSurge", d.Spec.Strategy.RollingUpdate.MaxSurge, ptr.To(intstr.FromString("25%"))},
		{"revisionHistoryLimit", d.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
		{"progressDeadlineSeconds", d.Spec.ProgressDeadlineSeconds, ptr.To[int32](600)},
		{"template defaults", d.Spec.Template.Spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent},
	})

	recreate := decode[appsv1.Deployment](t, `spec: {strategy: {type: Recreate}}`)
	defaults.Deployment(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate deployment got rollingUpdate %+v", recreate.Spec.Strategy.RollingUpdate)
	}

	rs := &appsv1.ReplicaSet{}
	defaults.ReplicaSet(rs)
	verify(t, []check{{"replicaset replicas", rs.Spec.Replicas, ptr.To[int32](1)}})

	s := decode[appsv1.StatefulSet](t, `
spec:
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`)
	defaults.StatefulSet(s)
	verify(t, []check{
		{"podManagementPolicy", s.Spec.PodManagementPolicy, appsv1.OrderedReadyPodManagement},
		{"updateStrategy", s.Spec.UpdateStrategy, appsv1.StatefulSetUpdateStrategy{
			Type: appsv1.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}}},
		{"pvc retention", s.Spec.PersistentVolumeClaimRetentionPolicy, &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}},
		{"replicas", s.Spec.Replicas, ptr.To[int32](1)},
		{"revisionHistoryLimit", s.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
		{"claim volumeMode", s.Spec.VolumeClaimTemplates[0].Spec.VolumeMode, ptr.To(corev1.PersistentVolumeFilesystem)},
		{"claim phase", s.Spec.VolumeClaimTemplates[0].Status.Phase, corev1.ClaimPending},
	})

	onDelete := decode[appsv1.StatefulSet](t, `spec: {updateStrategy: {type: OnDelete}}`)
	defaults.StatefulSet(onDelete)
	if onDelete.Spec.UpdateStrategy.RollingUpdate != nil {
		t.Errorf("OnDelete statefulset got rollingUpdate %+v", onDelete.Spec.UpdateStrategy.RollingUpdate)
	}

	daemon := &appsv1.DaemonSet{}
	defaults.DaemonSet(daemon)
	verify(t, []check{
		{"daemonset strategy", daemon.Spec.UpdateStrategy, appsv1.DaemonSetUpdateStrategy{
			Type: appsv1.RollingUpdateDaemonSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}}},
		{"daemonset revisionHistoryLimit", daemon.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
	})
}

const piJob = `
metadata: {name: pi, namespace: default}
spec:
  template:
    metadata: {labels: {app: pi}}
    spec:
      containers:
      - name: pi
        image: perl:5.34.0
`

func TestJobDefaults(t *testing.T) {
	j := decode[batchv1.Job](t, piJob)
	defaults.Job(j)
	verify(t, []check{
		{"completions", j.Spec.Completions, ptr.To[int32](1)},
		{"parallelism", j.Spec.Parallelism, ptr.To[int32](1)},
		{"backoffLimit", j.Spec.BackoffLimit, ptr.To[int32](6)},
		{"completionMode", j.Spec.CompletionMode, ptr.To(batchv1.NonIndexedCompletion)},
		{"suspend", j.Spec.Suspend, ptr.To(false)},
		{"manualSelector", j.Spec.ManualSelector, ptr.To(false)},
		{"podReplacementPolicy", j.Spec.PodReplacementPolicy, ptr.To(batchv1.TerminatingOrFailed)},
		{"restartPolicy is left for the client", j.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicy("")},
		{"template defaults", j.Spec.Template.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"no selector before the server assigns a UID", j.Spec.Selector, (*metav1.LabelSelector)(nil)},
		{"job labels from the template", j.Labels, map[string]string{"app": "pi"}},
	})

	// Work queue: parallelism alone leaves completions unset.
	wq := decode[batchv1.Job](t, `spec: {parallelism: 3}`)
	defaults.Job(wq)
	verify(t, []check{{"work queue completions", wq.Spec.Completions, (*int32)(nil)}})

	perIndex := decode[batchv1.Job](t, `
spec:
  completionMode: Indexed
  completions: 3
  backoffLimitPerIndex: 1
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]
`)
	defaults.Job(perIndex)
	verify(t, []check{
		{"backoffLimit with backoffLimitPerIndex", perIndex.Spec.BackoffLimit, ptr.To[int32](2147483647)},
		{"podReplacementPolicy with podFailurePolicy", perIndex.Spec.PodReplacementPolicy, ptr.To(batchv1.Failed)},
		{"pod condition status", perIndex.Spec.PodFailurePolicy.Rules[0].OnPodConditions[0].Status, corev1.ConditionTrue},
	})
}

func TestJobSelectorGeneration(t *testing.T) {
	j := decode[batchv1.Job](t, piJob)
	j.UID = "8b2a9c1e-4f3d-4c2b-9a1e-0f9d8c7b6a50"
	j.Labels = nil
	defaults.Job(j)
	uid := string(j.UID)
	wantLabels := map[string]string{
		"app": "pi", "job-name": "pi", "batch.kubernetes.io/job-name": "pi",
		"controller-uid": uid, "batch.kubernetes.io/controller-uid": uid,
	}
	verify(t, []check{
		{"selector", j.Spec.Selector.MatchLabels, map[string]string{"batch.kubernetes.io/controller-uid": uid}},
		{"template labels", j.Spec.Template.Labels, wantLabels},
		{"job labels", j.Labels, wantLabels},
	})

	manual := decode[batchv1.Job](t, `
metadata: {name: m, uid: 0f6e0c43-1111-4222-8333-444455556666}
spec:
  manualSelector: true
  selector: {matchLabels: {batch: m}}
  template: {metadata: {labels: {batch: m}}}
`)
	defaults.Job(manual)
	verify(t, []check{
		{"manual selector kept", manual.Spec.Selector.MatchLabels, map[string]string{"batch": "m"}},
		{"manual template labels kept", manual.Spec.Template.Labels, map[string]string{"batch": "m"}},
	})
}

func TestCronJobDefaults(t *testing.T) {
	c := decode[batchv1.CronJob](t, `
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: busybox}]
`)
	defaults.CronJob(c)
	verify(t, []check{
		{"concurrencyPolicy", c.Spec.ConcurrencyPolicy, batchv1.AllowConcurrent},
		{"suspend", c.Spec.Suspend, ptr.To(false)},
		{"successfulJobsHistoryLimit", c.Spec.SuccessfulJobsHistoryLimit, ptr.To[int32](3)},
		{"failedJobsHistoryLimit", c.Spec.FailedJobsHistoryLimit, ptr.To[int32](1)},
		{"job spec left to the Job", c.Spec.JobTemplate.Spec.BackoffLimit, (*int32)(nil)},
		{"pod template defaults", c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].ImagePullPolicy, corev1.PullAlways},
		{"restartPolicy is left for the client", c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicy("")},
	})
}

func TestSecretDefaults(t *testing.T) {
	s := decode[corev1.Secret](t, `
data: {user: YWRtaW4=, password: b2xk}
stringData: {password: new, url: "postgres://db"}
`)
	defaults.Secret(s)
	verify(t, []check{
		{"type", s.Type, corev1.SecretTypeOpaque},
		{"data", s.Data, map[string][]byte{"user": []byte("admin"), "password": []byte("new"), "url": []byte("postgres://db")}},
		{"stringData", s.StringData, map[string]string(nil)},
	})
	tls := &corev1.Secret{Type: corev1.SecretTypeTLS}
	defaults.Secret(tls)
	verify(t, []check{{"type kept", tls.Type, corev1.SecretTypeTLS}})
}

func TestNetworkObjectDefaults(t *testing.T) {
	slice := decode[discoveryv1.EndpointSlice](t, `
addressType: IPv4
ports:
- port: 80
- {name: dns, port: 53, protocol: UDP}
`)
	defaults.EndpointSlice(slice)
	verify(t, []check{
		{"port name", slice.Ports[0].Name, ptr.To("")},
		{"port protocol", slice.Ports[0].Protocol, ptr.To(corev1.ProtocolTCP)},
		{"named UDP port kept", slice.Ports[1], discoveryv1.EndpointPort{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)}},
	})

	ep := decode[corev1.Endpoints](t, `subsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}]}]`)
	defaults.Endpoints(ep)
	verify(t, []check{{"endpoints port protocol", ep.Subsets[0].Ports[0].Protocol, corev1.ProtocolTCP}})

	node := decode[corev1.Node](t, `
spec: {podCIDR: 10.244.1.0/24}
status: {capacity: {cpu: "4", memory: 8Gi}}
`)
	defaults.Node(node)
	verify(t, []check{
		{"podCIDRs", node.Spec.PodCIDRs, []string{"10.244.1.0/24"}},
		{"allocatable", node.Status.Allocatable, node.Status.Capacity},
	})
}

// A stored Job without a selector must not grow one on update: the
// selector is immutable and the update would be refused.
func TestStoredJobGetsNoNewSelector(t *testing.T) {
	j := decode[batchv1.Job](t, piJob)
	j.UID, j.ResourceVersion = "8b2a9c1e-4f3d-4c2b-9a1e-0f9d8c7b6a50", "17"
	defaults.Job(j)
	if j.Spec.Selector != nil {
		t.Fatalf("selector generated on update: %+v", j.Spec.Selector)
	}
}
