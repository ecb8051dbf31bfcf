package validation_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// want is one cause a user should see: its type and field path.
type want struct {
	typ   field.ErrorType
	field string
}

func (w want) String() string { return string(w.typ) + " " + w.field }

func hasCause(errs field.ErrorList, w want) bool {
	for _, e := range errs {
		if e.Type == w.typ && e.Field == w.field {
			return true
		}
	}
	return false
}

var (
	required     = field.ErrorTypeRequired
	invalid      = field.ErrorTypeInvalid
	notSupported = field.ErrorTypeNotSupported
	duplicate    = field.ErrorTypeDuplicate
	forbidden    = field.ErrorTypeForbidden
	notFound     = field.ErrorTypeNotFound
	tooLong      = field.ErrorTypeTooLong
	tooMany      = field.ErrorTypeTooMany
)

// Shorthands for mutating the fixtures.
func pod(o runtime.Object) *corev1.Pod                  { return o.(*corev1.Pod) }
func svc(o runtime.Object) *corev1.Service              { return o.(*corev1.Service) }
func deploy(o runtime.Object) *appsv1.Deployment        { return o.(*appsv1.Deployment) }
func sts(o runtime.Object) *appsv1.StatefulSet          { return o.(*appsv1.StatefulSet) }
func ds(o runtime.Object) *appsv1.DaemonSet             { return o.(*appsv1.DaemonSet) }
func job(o runtime.Object) *batchv1.Job                 { return o.(*batchv1.Job) }
func cron(o runtime.Object) *batchv1.CronJob            { return o.(*batchv1.CronJob) }
func ing(o runtime.Object) *networkingv1.Ingress        { return o.(*networkingv1.Ingress) }
func slice(o runtime.Object) *discoveryv1.EndpointSlice { return o.(*discoveryv1.EndpointSlice) }
func ctr(o runtime.Object) *corev1.Container            { return &pod(o).Spec.Containers[0] }

const (
	podFile  = "pod-full.yaml"
	podName  = "Pod/api-7d9f8b6c5-x2vqz"
	webFile  = "deployment-web.yaml"
	webName  = "Deployment/web"
	svcFile  = "services.yaml"
	jobsFile = "jobs.yaml"
	cronFile = "cronjobs.yaml"
	ingFile  = "ingress.yaml"
	cfgFile  = "config.yaml"
	clFile   = "cluster.yaml"
)

type invalidCase struct {
	name     string
	file     string
	kindName string
	mutate   func(runtime.Object)
	want     []want
}

// TestInvalidObjects checks that what a Kubernetes v1.33 API server refuses
// is refused, with the field path and error type kubectl would print. Each
// case breaks one thing in an otherwise valid fixture.
func TestInvalidObjects(t *testing.T) {
	cases := []invalidCase{
		// Object metadata.
		{"pod name not a DNS subdomain", podFile, podName, func(o runtime.Object) { pod(o).Name = "API_1" }, []want{{invalid, "metadata.name"}}},
		{"pod without namespace", podFile, podName, func(o runtime.Object) { pod(o).Namespace = "" }, []want{{required, "metadata.namespace"}}},
		{"label value", podFile, podName, func(o runtime.Object) { pod(o).Labels["app"] = "-api" }, []want{{invalid, "metadata.labels"}}},
		{"annotation key", podFile, podName, func(o runtime.Object) { pod(o).Annotations["bad key"] = "x" }, []want{{invalid, "metadata.annotations"}}},
		{"unqualified finalizer", podFile, podName, func(o runtime.Object) { pod(o).Finalizers = []string{"cleanup"} }, []want{{invalid, "metadata.finalizers[0]"}}},
		{"service name not a DNS-1035 label", svcFile, "Service/web", func(o runtime.Object) { svc(o).Name = "1web" }, []want{{invalid, "metadata.name"}}},
		{"namespace name with a dot", cfgFile, "Namespace/shop", func(o runtime.Object) { o.(*corev1.Namespace).Name = "shop.eu" }, []want{{invalid, "metadata.name"}}},
		{"statefulset name with a dot", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) { sts(o).Name = "web.v2" }, []want{{invalid, "metadata.name"}}},
		{"node with a namespace", clFile, "Node/skiff-agent-1", func(o runtime.Object) { o.(*corev1.Node).Namespace = "default" }, []want{{forbidden, "metadata.namespace"}}},

		// Pod spec.
		{"no containers", podFile, podName, func(o runtime.Object) { pod(o).Spec.Containers = nil }, []want{{required, "spec.containers"}}},
		{"container name", podFile, podName, func(o runtime.Object) { ctr(o).Name = "API" }, []want{{invalid, "spec.containers[0].name"}}},
		{"init and app container share a name", podFile, podName, func(o runtime.Object) { pod(o).Spec.InitContainers[0].Name = "api" }, []want{{duplicate, "spec.initContainers[0].name"}}},
		{"image missing", podFile, podName, func(o runtime.Object) { ctr(o).Image = "" }, []want{{required, "spec.containers[0].image"}}},
		{"image with whitespace in a pod", podFile, podName, func(o runtime.Object) { ctr(o).Image = " api:2" }, []want{{invalid, "spec.containers[0].image"}}},
		{"restartPolicy", podFile, podName, func(o runtime.Object) { pod(o).Spec.RestartPolicy = "Sometimes" }, []want{{notSupported, "spec.restartPolicy"}}},
		{"dnsPolicy", podFile, podName, func(o runtime.Object) { pod(o).Spec.DNSPolicy = "Cluster" }, []want{{notSupported, "spec.dnsPolicy"}}},
		{"dnsPolicy None needs dnsConfig", podFile, podName, func(o runtime.Object) { pod(o).Spec.DNSConfig = nil }, []want{{required, "spec.dnsConfig"}}},
		{"imagePullPolicy", podFile, podName, func(o runtime.Object) { ctr(o).ImagePullPolicy = "Sometimes" }, []want{{notSupported, "spec.containers[0].imagePullPolicy"}}},
		{"containerPort out of range", podFile, podName, func(o runtime.Object) { ctr(o).Ports[0].ContainerPort = 70000 }, []want{{invalid, "spec.containers[0].ports[0].containerPort"}}},
		{"containerPort missing", podFile, podName, func(o runtime.Object) { ctr(o).Ports[0].ContainerPort = 0 }, []want{{required, "spec.containers[0].ports[0].containerPort"}}},
		{"port name not IANA_SVC_NAME", podFile, podName, func(o runtime.Object) { ctr(o).Ports[0].Name = "https_port" }, []want{{invalid, "spec.containers[0].ports[0].name"}}},
		{"port names repeat", podFile, podName, func(o runtime.Object) { ctr(o).Ports[1].Name = "https" }, []want{{duplicate, "spec.containers[0].ports[1].name"}}},
		{"port protocol", podFile, podName, func(o runtime.Object) { ctr(o).Ports[0].Protocol = "HTTP" }, []want{{notSupported, "spec.containers[0].ports[0].protocol"}}},
		{"host port used twice", podFile, podName, func(o runtime.Object) {
			ctr(o).Ports = append(ctr(o).Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}, corev1.ContainerPort{ContainerPort: 81, HostPort: 8080, Protocol: "TCP"})
		}, []want{{duplicate, "spec.containers[0].ports[3].hostPort"}}},
		{"env var name with =", podFile, podName, func(o runtime.Object) { ctr(o).Env[0].Name = "A=B" }, []want{{invalid, "spec.containers[0].env[0].name"}}},
		{"env var with value and valueFrom", podFile, podName, func(o runtime.Object) { ctr(o).Env[0].Value = "x" }, []want{{invalid, "spec.containers[0].env[0].valueFrom"}}},
		{"env fieldRef unknown path", podFile, podName, func(o runtime.Object) { ctr(o).Env[0].ValueFrom.FieldRef.FieldPath = "spec.foo" }, []want{{invalid, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"}}},
		{"env fieldRef path only volumes offer", podFile, podName, func(o runtime.Object) { ctr(o).Env[0].ValueFrom.FieldRef.FieldPath = "metadata.labels" }, []want{{notSupported, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"}}},
		{"configMapKeyRef key", podFile, podName, func(o runtime.Object) { ctr(o).Env[2].ValueFrom.ConfigMapKeyRef.Key = "log level" }, []want{{invalid, "spec.containers[0].env[2].valueFrom.configMapKeyRef.key"}}},
		{"resourceFieldRef divisor", podFile, podName, func(o runtime.Object) {
			ctr(o).Env[3].ValueFrom.ResourceFieldRef.Divisor = resource.MustParse("3Mi")
		}, []want{{invalid, "spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor"}}},
		{"negative limit", podFile, podName, func(o runtime.Object) { ctr(o).Resources.Limits[corev1.ResourceCPU] = resource.MustParse("-1") }, []want{{invalid, "spec.containers[0].resources.limits[cpu]"}}},
		{"request above limit", podFile, podName, func(o runtime.Object) { ctr(o).Resources.Requests[corev1.ResourceMemory] = resource.MustParse("1Gi") }, []want{{invalid, "spec.containers[0].resources.requests"}}},
		{"unknown resource name", podFile, podName, func(o runtime.Object) { ctr(o).Resources.Limits["gpu"] = resource.MustParse("1") }, []want{{invalid, "spec.containers[0].resources.limits[gpu]"}}},
		{"extended resource request without limit", podFile, podName, func(o runtime.Object) {
			ctr(o).Resources.Requests["example.com/gpu"] = resource.MustParse("1")
		}, []want{{required, "spec.containers[0].resources.limits"}}},
		{"fractional extended resource", podFile, podName, func(o runtime.Object) {
			ctr(o).Resources.Limits["example.com/gpu"] = resource.MustParse("500m")
			ctr(o).Resources.Requests["example.com/gpu"] = resource.MustParse("500m")
		}, []want{{invalid, "spec.containers[0].resources.limits[example.com/gpu]"}}},
		{"volume names repeat", podFile, podName, func(o runtime.Object) { pod(o).Spec.Volumes[1].Name = "tls" }, []want{{duplicate, "spec.volumes[1].name"}}},
		{"volume with two sources", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{}
		}, []want{{forbidden, "spec.volumes[0].secret"}}},
		{"volume name not a DNS label", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Volumes[0].Name = "TLS"
			ctr(o).VolumeMounts[0].Name = "TLS"
		}, []want{{invalid, "spec.volumes[0].name"}, {notFound, "spec.containers[0].volumeMounts[0].name"}}},
		{"mount of a missing volume", podFile, podName, func(o runtime.Object) { ctr(o).VolumeMounts[0].Name = "certs" }, []want{{notFound, "spec.containers[0].volumeMounts[0].name"}}},
		{"mount path twice", podFile, podName, func(o runtime.Object) { ctr(o).VolumeMounts[1].MountPath = "/etc/tls" }, []want{{invalid, "spec.containers[0].volumeMounts[1].mountPath"}}},
		{"subPath climbing out", podFile, podName, func(o runtime.Object) { ctr(o).VolumeMounts[1].SubPath = "../etc" }, []want{{invalid, "spec.containers[0].volumeMounts.subPath"}}},
		{"secret volume mode", podFile, podName, func(o runtime.Object) { pod(o).Spec.Volumes[0].Secret.DefaultMode = ptr.To[int32](01000) }, []want{{invalid, "spec.volumes[0].secret.defaultMode"}}},
		{"secret volume without name", podFile, podName, func(o runtime.Object) { pod(o).Spec.Volumes[0].Secret.SecretName = "" }, []want{{required, "spec.volumes[0].secret.secretName"}}},
		{"hostPath type", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Volumes[5].HostPath.Type = ptr.To[corev1.HostPathType]("Pipe")
		}, []want{{notSupported, "spec.volumes[5].hostPath.type"}}},
		{"short-lived projected token", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Volumes[3].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds = ptr.To[int64](60)
		}, []want{{invalid, "spec.volumes[3].projected.sources[0].serviceAccountToken.expirationSeconds"}}},
		{"probe without handler", podFile, podName, func(o runtime.Object) { ctr(o).LivenessProbe.HTTPGet = nil }, []want{{required, "spec.containers[0].livenessProbe"}}},
		{"probe with two handlers", podFile, podName, func(o runtime.Object) {
			ctr(o).LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}
		}, []want{{forbidden, "spec.containers[0].livenessProbe.tcpSocket"}}},
		{"liveness successThreshold", podFile, podName, func(o runtime.Object) { ctr(o).LivenessProbe.SuccessThreshold = 2 }, []want{{invalid, "spec.containers[0].livenessProbe.successThreshold"}}},
		{"negative probe period", podFile, podName, func(o runtime.Object) { ctr(o).ReadinessProbe.PeriodSeconds = -1 }, []want{{invalid, "spec.containers[0].readinessProbe.periodSeconds"}}},
		{"readiness probe grace period", podFile, podName, func(o runtime.Object) {
			ctr(o).ReadinessProbe.TerminationGracePeriodSeconds = ptr.To[int64](5)
		}, []want{{invalid, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds"}}},
		{"httpGet scheme", podFile, podName, func(o runtime.Object) { ctr(o).LivenessProbe.HTTPGet.Scheme = "TCP" }, []want{{notSupported, "spec.containers[0].livenessProbe.httpGet.scheme"}}},
		{"probe port name", podFile, podName, func(o runtime.Object) { ctr(o).ReadinessProbe.HTTPGet.Port = intstr.FromString("HTTPS") }, []want{{invalid, "spec.containers[0].readinessProbe.httpGet.port"}}},
		{"probe on a plain init container", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.InitContainers[0].LivenessProbe = ctr(o).LivenessProbe
		}, []want{{forbidden, "spec.initContainers[0].livenessProbe"}}},
		{"init container restartPolicy", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.InitContainers[1].RestartPolicy = ptr.To[corev1.ContainerRestartPolicy]("OnFailure")
		}, []want{{notSupported, "spec.initContainers[1].restartPolicy"}}},
		{"restartPolicy on an app container", podFile, podName, func(o runtime.Object) {
			ctr(o).RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}, []want{{forbidden, "spec.containers[0].restartPolicy"}}},
		{"toleration operator", podFile, podName, func(o runtime.Object) { pod(o).Spec.Tolerations[0].Operator = "Equals" }, []want{{notSupported, "spec.tolerations[0].operator"}}},
		{"toleration Exists with a value", podFile, podName, func(o runtime.Object) { pod(o).Spec.Tolerations[0].Value = "true" }, []want{{invalid, "spec.tolerations[0].operator"}}},
		{"toleration effect", podFile, podName, func(o runtime.Object) { pod(o).Spec.Tolerations[0].Effect = "Never" }, []want{{notSupported, "spec.tolerations[0].effect"}}},
		{"tolerationSeconds without NoExecute", podFile, podName, func(o runtime.Object) { pod(o).Spec.Tolerations[1].Effect = corev1.TaintEffectNoSchedule }, []want{{invalid, "spec.tolerations[1].effect"}}},
		{"empty toleration key needs Exists", podFile, podName, func(o runtime.Object) { pod(o).Spec.Tolerations[2].Operator = corev1.TolerationOpEqual }, []want{{invalid, "spec.tolerations[2].operator"}}},
		{"node selector operator", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Operator = "Has"
		}, []want{{invalid, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"}}},
		{"node selector In without values", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values = nil
		}, []want{{required, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values"}}},
		{"node field selector key", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Key = "spec.unschedulable"
		}, []want{{invalid, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key"}}},
		{"nodeSelector label", podFile, podName, func(o runtime.Object) { pod(o).Spec.NodeSelector["bad key!"] = "x" }, []want{{invalid, "spec.nodeSelector"}}},
		{"activeDeadlineSeconds zero", podFile, podName, func(o runtime.Object) { pod(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }, []want{{invalid, "spec.activeDeadlineSeconds"}}},
		{"hostname", podFile, podName, func(o runtime.Object) { pod(o).Spec.Hostname = "api_0" }, []want{{invalid, "spec.hostname"}}},
		{"serviceAccountName", podFile, podName, func(o runtime.Object) { pod(o).Spec.ServiceAccountName = "API" }, []want{{invalid, "spec.serviceAccountName"}}},
		{"dns nameserver", podFile, podName, func(o runtime.Object) { pod(o).Spec.DNSConfig.Nameservers = []string{"dns.local"} }, []want{{invalid, "spec.dnsConfig.nameservers[0]"}}},
		{"sleep longer than the grace period", podFile, podName, func(o runtime.Object) {
			ctr(o).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}}
		}, []want{{invalid, "spec.containers[0].lifecycle.preStop.sleep"}}},
		{"runAsUser negative", podFile, podName, func(o runtime.Object) {
			ctr(o).SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](-1)}
		}, []want{{invalid, "spec.containers[0].securityContext.runAsUser"}}},
		{"privileged without privilege escalation", podFile, podName, func(o runtime.Object) {
			ctr(o).SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)}
		}, []want{{invalid, "spec.containers[0].securityContext"}}},
		{"Localhost seccomp without profile", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}
		}, []want{{required, "spec.securityContext.seccompProfile.localhostProfile"}}},
		{"network sysctl on the host network", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.HostNetwork = true
			for i := range ctr(o).Ports {
				ctr(o).Ports[i].HostPort = ctr(o).Ports[i].ContainerPort
			}
		}, []want{{invalid, "spec.securityContext.sysctls[0].name"}}},
		{"hostPort differs from containerPort on the host network", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.HostNetwork = true
			pod(o).Spec.SecurityContext.Sysctls = nil
			ctr(o).Ports[0].HostPort = 443
		}, []want{{invalid, "spec.containers[0].ports[0].hostPort"}}},
		{"pod deletion cost with a plus sign", podFile, podName, func(o runtime.Object) {
			pod(o).Annotations["controller.kubernetes.io/pod-deletion-cost"] = "+5"
		}, []want{{invalid, "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]"}}},
		{"AppArmor annotation for a missing container", podFile, podName, func(o runtime.Object) {
			pod(o).Annotations["container.apparmor.security.beta.kubernetes.io/web"] = "runtime/default"
		}, []want{{invalid, "metadata.annotations[container.apparmor.security.beta.kubernetes.io/web]"}}},
		{"ephemeral containers on create", podFile, podName, func(o runtime.Object) {
			pod(o).Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: "IfNotPresent", TerminationMessagePolicy: "File"}}}
		}, []want{{forbidden, "spec.ephemeralContainers"}}},
		{"topology spread maxSkew", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Template.Spec.TopologySpreadConstraints[0].MaxSkew = 0
		}, []want{{invalid, "spec.template.spec.topologySpreadConstraints[0].maxSkew"}}},
		{"topology spread whenUnsatisfiable", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable = "Never"
		}, []want{{notSupported, "spec.template.spec.topologySpreadConstraints[0].whenUnsatisfiable"}}},
		{"pod anti-affinity weight", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 101
		}, []want{{invalid, "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"}}},

		// Services.
		{"service type", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.Type = "Internal" }, []want{{notSupported, "spec.type"}}},
		{"sessionAffinity", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.SessionAffinity = "Cookie" }, []want{{notSupported, "spec.sessionAffinity"}}},
		{"service port zero", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.Ports[0].Port = 0 }, []want{{invalid, "spec.ports[0].port"}}},
		{"service without ports", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.Ports = nil }, []want{{required, "spec.ports"}}},
		{"unnamed ports when there are two", svcFile, "Service/web", func(o runtime.Object) {
			svc(o).Spec.Ports = append(svc(o).Spec.Ports, corev1.ServicePort{Port: 443, Protocol: "TCP", TargetPort: intstr.FromInt32(443)})
		}, []want{{required, "spec.ports[0].name"}, {required, "spec.ports[1].name"}}},
		{"same port and protocol twice", svcFile, "Service/web-np", func(o runtime.Object) { svc(o).Spec.Ports[1].Port, svc(o).Spec.Ports[1].Protocol = 80, "TCP" }, []want{{duplicate, "spec.ports[1]"}}},
		{"same port name twice", svcFile, "Service/web-np", func(o runtime.Object) { svc(o).Spec.Ports[1].Name = "http" }, []want{{duplicate, "spec.ports[1].name"}}},
		{"nodePort on a ClusterIP service", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.Ports[0].NodePort = 30001 }, []want{{forbidden, "spec.ports[0].nodePort"}}},
		{"nodePort twice", svcFile, "Service/web-np", func(o runtime.Object) {
			svc(o).Spec.Ports[1].NodePort = 30080
			svc(o).Spec.Ports[1].Protocol = "TCP"
		}, []want{{duplicate, "spec.ports[1].nodePort"}}},
		{"headless NodePort", svcFile, "Service/web-np", func(o runtime.Object) {
			svc(o).Spec.ClusterIP, svc(o).Spec.ClusterIPs = "None", []string{"None"}
		}, []want{{invalid, "spec.clusterIPs[0]"}}},
		{"ExternalName without a name", svcFile, "Service/search", func(o runtime.Object) { svc(o).Spec.ExternalName = "" }, []want{{required, "spec.externalName"}}},
		{"ExternalName with a cluster IP", svcFile, "Service/search", func(o runtime.Object) {
			svc(o).Spec.ClusterIP, svc(o).Spec.ClusterIPs = "10.96.0.9", []string{"10.96.0.9"}
		}, []want{{forbidden, "spec.clusterIPs"}}},
		{"bad cluster IP", svcFile, "Service/with-ip", func(o runtime.Object) {
			svc(o).Spec.ClusterIP, svc(o).Spec.ClusterIPs = "10.96.100.300", []string{"10.96.100.300"}
		}, []want{{invalid, "spec.clusterIPs[0]"}}},
		{"clusterIPs not starting with clusterIP", svcFile, "Service/with-ip", func(o runtime.Object) { svc(o).Spec.ClusterIPs = []string{"10.96.100.6"} }, []want{{invalid, "spec.clusterIPs"}}},
		{"loopback external IP", svcFile, "Service/with-ip", func(o runtime.Object) { svc(o).Spec.ExternalIPs = []string{"127.0.0.1"} }, []want{{invalid, "spec.externalIPs[0]"}}},
		{"externalTrafficPolicy on an internal service", svcFile, "Service/web", func(o runtime.Object) {
			svc(o).Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, []want{{invalid, "spec.externalTrafficPolicy"}}},
		{"source ranges on a ClusterIP service", svcFile, "Service/web", func(o runtime.Object) {
			svc(o).Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}, []want{{forbidden, "spec.LoadBalancerSourceRanges"}}},
		{"bad source range", svcFile, "Service/web-lb", func(o runtime.Object) { svc(o).Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/40"} }, []want{{invalid, "spec.LoadBalancerSourceRanges[0]"}}},
		{"ClientIP timeout", svcFile, "Service/web-lb", func(o runtime.Object) {
			svc(o).Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds = ptr.To[int32](0)
		}, []want{{invalid, "spec.sessionAffinityConfig.clientIP.timeoutSeconds"}}},
		{"targetPort name", svcFile, "Service/web-np", func(o runtime.Object) { svc(o).Spec.Ports[0].TargetPort = intstr.FromString("Http_Port") }, []want{{invalid, "spec.ports[0].targetPort"}}},
		{"service selector", svcFile, "Service/web", func(o runtime.Object) { svc(o).Spec.Selector["app"] = "web app" }, []want{{invalid, "spec.selector"}}},

		// Deployments and other workloads.
		{"selector does not match template", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Template.Labels["tier"] = "backend" }, []want{{invalid, "spec.template.metadata.labels"}}},
		{"deployment without selector", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Selector = nil }, []want{{required, "spec.selector"}}},
		{"deployment with empty selector", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Selector = &metav1.LabelSelector{} }, []want{{invalid, "spec.selector"}}},
		{"selector operator", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Selector.MatchExpressions[0].Operator = "Has" }, []want{{invalid, "spec.selector.matchExpressions[0].operator"}}},
		{"negative replicas", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Replicas = ptr.To[int32](-1) }, []want{{invalid, "spec.replicas"}}},
		{"deployment pods must restart", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, []want{{notSupported, "spec.template.spec.restartPolicy"}}},
		{"deployment pods cannot have a deadline", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](5) }, []want{{forbidden, "spec.template.spec.activeDeadlineSeconds"}}},
		{"deployment template container", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Template.Spec.Containers[0].Image = "" }, []want{{required, "spec.template.spec.containers[0].image"}}},
		{"template label", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Template.Labels["bad key!"] = "x" }, []want{{invalid, "spec.template.labels"}}},
		{"strategy type", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Strategy.Type = "BlueGreen" }, []want{{notSupported, "spec.strategy"}}},
		{"Recreate with rollingUpdate", webFile, webName, func(o runtime.Object) { deploy(o).Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }, []want{{forbidden, "spec.strategy.rollingUpdate"}}},
		{"no progress possible", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("0%"))
		}, []want{{invalid, "spec.strategy.rollingUpdate.maxUnavailable"}}},
		{"maxUnavailable above 100%", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("120%"))
		}, []want{{invalid, "spec.strategy.rollingUpdate.maxUnavailable"}}},
		{"maxSurge not a percentage", webFile, webName, func(o runtime.Object) {
			deploy(o).Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("half"))
		}, []want{{invalid, "spec.strategy.rollingUpdate.maxSurge"}}},
		{"progress deadline not after minReadySeconds", webFile, webName, func(o runtime.Object) { deploy(o).Spec.ProgressDeadlineSeconds = ptr.To[int32](5) }, []want{{invalid, "spec.progressDeadlineSeconds"}}},
		{"replicaset selector mismatch", clFile, "ReplicaSet/web-6d8f9c7b5", func(o runtime.Object) {
			o.(*appsv1.ReplicaSet).Spec.Template.Labels["pod-template-hash"] = "other"
		}, []want{{invalid, "spec.template.metadata.labels"}}},
		{"podManagementPolicy", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) { sts(o).Spec.PodManagementPolicy = "Random" }, []want{{invalid, "spec.podManagementPolicy"}}},
		{"statefulset update strategy", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) { sts(o).Spec.UpdateStrategy.Type = "Canary" }, []want{{invalid, "spec.updateStrategy"}}},
		{"negative partition", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) {
			sts(o).Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](-1)
		}, []want{{invalid, "spec.updateStrategy.rollingUpdate.partition"}}},
		{"PVC retention policy", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) {
			sts(o).Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = "Keep"
		}, []want{{notSupported, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"}}},
		{"statefulset serviceName", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) { sts(o).Spec.ServiceName = "nginx_svc" }, []want{{invalid, "spec.serviceName"}}},
		{"statefulset selector mismatch", "statefulset-web.yaml", "StatefulSet/web", func(o runtime.Object) { sts(o).Spec.Template.Labels = nil }, []want{{invalid, "spec.template.metadata.labels"}}},
		{"daemonset with no way to roll", "daemonset-fluentd.yaml", "DaemonSet/fluentd-elasticsearch", func(o runtime.Object) {
			ds(o).Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		}, []want{{required, "spec.updateStrategy.rollingUpdate.maxUnavailable"}}},
		{"daemonset surge and unavailable", "daemonset-fluentd.yaml", "DaemonSet/fluentd-elasticsearch", func(o runtime.Object) {
			ds(o).Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
		}, []want{{invalid, "spec.updateStrategy.rollingUpdate.maxSurge"}}},
		{"daemonset strategy type", "daemonset-fluentd.yaml", "DaemonSet/fluentd-elasticsearch", func(o runtime.Object) { ds(o).Spec.UpdateStrategy.Type = "Rolling" }, []want{{notSupported, "spec.updateStrategy"}}},
		{"daemonset selector mismatch", "daemonset-fluentd.yaml", "DaemonSet/fluentd-elasticsearch", func(o runtime.Object) {
			ds(o).Spec.Selector.MatchLabels["name"] = "fluentd"
		}, []want{{invalid, "spec.template.metadata.labels"}}},
		{"controller revision without data", clFile, "ControllerRevision/web-6d8f9c7b5", func(o runtime.Object) {
			o.(*appsv1.ControllerRevision).Data = runtime.RawExtension{}
		}, []want{{required, "data"}}},

		// Jobs and CronJobs.
		{"job pods that always restart", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }, []want{{required, "spec.template.spec.restartPolicy"}}},
		{"job without restartPolicy", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.Template.Spec.RestartPolicy = "" }, []want{{required, "spec.template.spec.restartPolicy"}}},
		{"negative parallelism", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.Parallelism = ptr.To[int32](-1) }, []want{{invalid, "spec.parallelism"}}},
		{"negative backoffLimit", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.BackoffLimit = ptr.To[int32](-1) }, []want{{invalid, "spec.backoffLimit"}}},
		{"completionMode", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Ordered") }, []want{{notSupported, "spec.completionMode"}}},
		{"Indexed without completions", jobsFile, "Job/indexed", func(o runtime.Object) { job(o).Spec.Completions = nil }, []want{{required, "spec.completions"}}},
		{"backoffLimitPerIndex on a NonIndexed job", jobsFile, "Job/pi", func(o runtime.Object) { job(o).Spec.BackoffLimitPerIndex = ptr.To[int32](1) }, []want{{invalid, "spec.backoffLimitPerIndex"}}},
		{"podFailurePolicy with OnFailure", jobsFile, "Job/indexed", func(o runtime.Object) { job(o).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }, []want{{invalid, "spec.template.spec.restartPolicy"}}},
		{"podFailurePolicy rule without action", jobsFile, "Job/indexed", func(o runtime.Object) { job(o).Spec.PodFailurePolicy.Rules[0].Action = "" }, []want{{required, "spec.podFailurePolicy.rules[0].action"}}},
		{"exit codes out of order", jobsFile, "Job/indexed", func(o runtime.Object) {
			job(o).Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{42, 1}
		}, []want{{invalid, "spec.podFailurePolicy.rules[0].onExitCodes.values"}}},
		{"exit code 0 with In", jobsFile, "Job/indexed", func(o runtime.Object) {
			job(o).Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{0, 42}
		}, []want{{invalid, "spec.podFailurePolicy.rules[0].onExitCodes.values[0]"}}},
		{"exit codes of an unknown container", jobsFile, "Job/indexed", func(o runtime.Object) {
			job(o).Spec.PodFailurePolicy.Rules[0].OnExitCodes.ContainerName = ptr.To("main")
		}, []want{{invalid, "spec.podFailurePolicy.rules[0].onExitCodes.containerName"}}},
		{"podReplacementPolicy with a failure policy", jobsFile, "Job/indexed", func(o runtime.Object) {
			job(o).Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}, []want{{notSupported, "spec.podReplacementPolicy"}}},
		{"succeededIndexes beyond completions", jobsFile, "Job/indexed", func(o runtime.Object) {
			job(o).Spec.SuccessPolicy.Rules[0].SucceededIndexes = ptr.To("0-7")
		}, []want{{invalid, "spec.successPolicy.rules[0].succeededIndexes"}}},
		{"manual selector missing", jobsFile, "Job/manual", func(o runtime.Object) { job(o).Spec.Selector = nil }, []want{{required, "spec.selector"}}},
		{"manual selector does not match template", jobsFile, "Job/manual", func(o runtime.Object) { job(o).Spec.Template.Labels["batch"] = "auto" }, []want{{invalid, "spec.template.metadata.labels"}}},
		{"hand-written selector without manualSelector", jobsFile, "Job/pi", func(o runtime.Object) {
			j := job(o)
			j.UID = "0d6a2f4e-1111-4222-8333-444455556666"
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, []want{{invalid, "spec.selector"}}},
		{"indexed pod hostnames too long", jobsFile, "Job/indexed", func(o runtime.Object) { job(o).Name = strings.Repeat("a", 62) }, []want{{invalid, "metadata.name"}}},
		{"cronjob without schedule", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.Schedule = "" }, []want{{required, "spec.schedule"}}},
		{"cron schedule with four fields", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.Schedule = "* * * *" }, []want{{invalid, "spec.schedule"}}},
		{"cron minute 61", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.Schedule = "61 * * * *" }, []want{{invalid, "spec.schedule"}}},
		{"cron time zone in schedule", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.Schedule = "TZ=UTC 0 * * * *" }, []want{{invalid, "spec.schedule"}}},
		{"unknown time zone", cronFile, "CronJob/report", func(o runtime.Object) { cron(o).Spec.TimeZone = ptr.To("Mars/Olympus_Mons") }, []want{{invalid, "spec.timeZone"}}},
		{"Local time zone", cronFile, "CronJob/report", func(o runtime.Object) { cron(o).Spec.TimeZone = ptr.To("Local") }, []want{{invalid, "spec.timeZone"}}},
		{"concurrencyPolicy", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.ConcurrencyPolicy = "Sometimes" }, []want{{notSupported, "spec.concurrencyPolicy"}}},
		{"job template with a selector", cronFile, "CronJob/hello", func(o runtime.Object) {
			cron(o).Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []want{{invalid, "spec.jobTemplate.spec.selector"}}},
		{"job template pods that always restart", cronFile, "CronJob/hello", func(o runtime.Object) {
			cron(o).Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, []want{{required, "spec.jobTemplate.spec.template.spec.restartPolicy"}}},
		{"cronjob name too long for its jobs", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Name = strings.Repeat("c", 53) }, []want{{invalid, "metadata.name"}}},
		{"negative history limit", cronFile, "CronJob/hello", func(o runtime.Object) { cron(o).Spec.FailedJobsHistoryLimit = ptr.To[int32](-1) }, []want{{invalid, "spec.failedJobsHistoryLimit"}}},

		// ConfigMaps, Secrets, Namespaces, Nodes.
		{"configmap key", cfgFile, "ConfigMap/game-demo", func(o runtime.Object) { o.(*corev1.ConfigMap).Data["bad key"] = "x" }, []want{{invalid, "data[bad key]"}}},
		{"key in data and binaryData", cfgFile, "ConfigMap/game-demo", func(o runtime.Object) { o.(*corev1.ConfigMap).Data["logo.png"] = "x" }, []want{{invalid, "data[logo.png]"}}},
		{"configmap over 1MiB", cfgFile, "ConfigMap/game-demo", func(o runtime.Object) {
			o.(*corev1.ConfigMap).Data["big"] = strings.Repeat("x", 1<<20)
		}, []want{{tooLong, "[]"}}}, // Kubernetes names the whole object with an empty path
		{"secret key", cfgFile, "Secret/db", func(o runtime.Object) { o.(*corev1.Secret).Data["../x"] = nil }, []want{{invalid, "data[../x]"}}},
		{"secret over 1MiB", cfgFile, "Secret/db", func(o runtime.Object) { o.(*corev1.Secret).Data["big"] = make([]byte, 1<<20) }, []want{{tooLong, "data"}}},
		{"tls secret without key", cfgFile, "Secret/api-tls", func(o runtime.Object) { delete(o.(*corev1.Secret).Data, "tls.key") }, []want{{required, "data[tls.key]"}}},
		{"docker config not JSON", cfgFile, "Secret/regcred", func(o runtime.Object) { o.(*corev1.Secret).Data[".dockerconfigjson"] = []byte("{") }, []want{{invalid, "data[.dockerconfigjson]"}}},
		{"service account token without account", cfgFile, "Secret/build-robot-secret", func(o runtime.Object) { o.(*corev1.Secret).Annotations = nil }, []want{{required, "metadata.annotations[kubernetes.io/service-account.name]"}}},
		{"namespace finalizer", cfgFile, "Namespace/shop", func(o runtime.Object) {
			o.(*corev1.Namespace).Spec.Finalizers = append(o.(*corev1.Namespace).Spec.Finalizers, "cleanup")
		}, []want{{invalid, "spec.finalizers"}}},
		{"node pod CIDR", clFile, "Node/skiff-agent-1", func(o runtime.Object) { o.(*corev1.Node).Spec.PodCIDRs = []string{"10.244.1.0/33"} }, []want{{invalid, "spec.podCIDRs[0]"}}},
		{"taint without effect", clFile, "Node/skiff-agent-1", func(o runtime.Object) { o.(*corev1.Node).Spec.Taints[0].Effect = "" }, []want{{required, "metadata.taints[0].effect"}}},
		{"same taint twice", clFile, "Node/skiff-agent-1", func(o runtime.Object) {
			n := o.(*corev1.Node)
			n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0])
		}, []want{{duplicate, "metadata.taints[1]"}}},
		{"negative capacity", clFile, "Node/skiff-agent-1", func(o runtime.Object) {
			o.(*corev1.Node).Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-4")
		}, []want{{invalid, "status.capacity.cpu"}}},

		// Endpoints and EndpointSlices.
		{"subset without addresses", clFile, "Endpoints/web", func(o runtime.Object) {
			s := &o.(*corev1.Endpoints).Subsets[0]
			s.Addresses, s.NotReadyAddresses = nil, nil
		}, []want{{required, "subsets[0]"}}},
		{"loopback endpoint", clFile, "Endpoints/web", func(o runtime.Object) { o.(*corev1.Endpoints).Subsets[0].Addresses[0].IP = "127.0.0.1" }, []want{{invalid, "subsets[0].addresses[0].ip"}}},
		{"unnamed endpoint port", clFile, "Endpoints/web", func(o runtime.Object) { o.(*corev1.Endpoints).Subsets[0].Ports[0].Name = "" }, []want{{required, "subsets[0].ports[0].name"}}},
		{"addressType", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) { slice(o).AddressType = "IPv5" }, []want{{notSupported, "addressType"}}},
		{"IPv6 address in an IPv4 slice", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) { slice(o).Endpoints[0].Addresses[0] = "fd00::5" }, []want{{invalid, "endpoints[0].addresses[0]"}}},
		{"endpoint without address", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) { slice(o).Endpoints[0].Addresses = nil }, []want{{required, "endpoints[0].addresses"}}},
		{"too many endpoints", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) {
			s := slice(o)
			for len(s.Endpoints) <= 1000 {
				s.Endpoints = append(s.Endpoints, s.Endpoints[0])
			}
		}, []want{{tooMany, "endpoints"}}},
		{"slice port names repeat", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) { slice(o).Ports = append(slice(o).Ports, slice(o).Ports[0]) }, []want{{duplicate, "ports[1].name"}}},
		{"slice port protocol", clFile, "EndpointSlice/web-abc12", func(o runtime.Object) { slice(o).Ports[0].Protocol = ptr.To[corev1.Protocol]("HTTP") }, []want{{notSupported, "ports[0].protocol"}}},
		{"FQDN address", clFile, "EndpointSlice/external-db-xyz", func(o runtime.Object) { slice(o).Endpoints[0].Addresses[0] = "db" }, []want{{invalid, "endpoints[0].addresses[0]"}}},

		// Leases and Events.
		{"lease duration", clFile, "Lease/skiff-agent-1", func(o runtime.Object) { o.(*coordinationv1.Lease).Spec.LeaseDurationSeconds = ptr.To[int32](0) }, []want{{invalid, "spec.leaseDurationSeconds"}}},
		{"lease transitions", clFile, "Lease/skiff-agent-1", func(o runtime.Object) { o.(*coordinationv1.Lease).Spec.LeaseTransitions = ptr.To[int32](-1) }, []want{{invalid, "spec.leaseTransitions"}}},
		{"preferred holder without strategy", clFile, "Lease/skiff-agent-1", func(o runtime.Object) { o.(*coordinationv1.Lease).Spec.PreferredHolder = ptr.To("agent-2") }, []want{{forbidden, "spec.preferredHolder"}}},
		{"event about an object in another namespace", clFile, "Event/web-1.17f2a3b4c5d6e7f8", func(o runtime.Object) {
			o.(*corev1.Event).InvolvedObject.Namespace = "kube-system"
		}, []want{{invalid, "involvedObject.namespace"}}},
		{"new-style core event without reporter", clFile, "Event/web-1.17f2a3b4c5d6e7f8", func(o runtime.Object) {
			o.(*corev1.Event).EventTime = metav1.NewMicroTime(metav1.Now().Time)
		}, []want{{required, "reportingController"}, {required, "reportingInstance"}, {required, "action"}}},
		{"events.k8s.io event without eventTime", clFile, "Event/web-1.17f2a3b4c5d6e800", func(o runtime.Object) { o.(*eventsv1.Event).EventTime = metav1.MicroTime{} }, []want{{required, "eventTime"}}},
		{"events.k8s.io event type", clFile, "Event/web-1.17f2a3b4c5d6e800", func(o runtime.Object) { o.(*eventsv1.Event).Type = "Info" }, []want{{invalid, "type"}}},
		{"events.k8s.io series of one", clFile, "Event/web-1.17f2a3b4c5d6e800", func(o runtime.Object) { o.(*eventsv1.Event).Series.Count = 1 }, []want{{invalid, "series.count"}}},
		{"events.k8s.io event with a legacy count", clFile, "Event/web-1.17f2a3b4c5d6e800", func(o runtime.Object) { o.(*eventsv1.Event).DeprecatedCount = 3 }, []want{{invalid, "count"}}},
		{"events.k8s.io note too long", clFile, "Event/web-1.17f2a3b4c5d6e800", func(o runtime.Object) { o.(*eventsv1.Event).Note = strings.Repeat("n", 1025) }, []want{{invalid, "message"}}},

		// Ingresses.
		{"path without pathType", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) { ing(o).Spec.Rules[0].HTTP.Paths[0].PathType = nil }, []want{{required, "spec.rules[0].http.paths[0].pathType"}}},
		{"pathType", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) {
			ing(o).Spec.Rules[0].HTTP.Paths[0].PathType = ptr.To[networkingv1.PathType]("Regex")
		}, []want{{notSupported, "spec.rules[0].http.paths[0].pathType"}}},
		{"relative Prefix path", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) { ing(o).Spec.Rules[0].HTTP.Paths[0].Path = "testpath" }, []want{{invalid, "spec.rules[0].http.paths[0].path"}}},
		{"path with //", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) { ing(o).Spec.Rules[0].HTTP.Paths[0].Path = "/a//b" }, []want{{invalid, "spec.rules[0].http.paths[0].path"}}},
		{"rule without paths", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) { ing(o).Spec.Rules[0].HTTP.Paths = nil }, []want{{required, "spec.rules[0].http.paths"}}},
		{"IP as host", ingFile, "Ingress/shop", func(o runtime.Object) { ing(o).Spec.Rules[1].Host = "10.0.0.1" }, []want{{invalid, "spec.rules[1].host"}}},
		{"upper-case host", ingFile, "Ingress/shop", func(o runtime.Object) { ing(o).Spec.Rules[1].Host = "Shop.example.com" }, []want{{invalid, "spec.rules[1].host"}}},
		{"no rules and no default backend", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) { ing(o).Spec.Rules = nil }, []want{{invalid, "spec"}}},
		{"service and resource backend", ingFile, "Ingress/shop", func(o runtime.Object) {
			ing(o).Spec.DefaultBackend.Service = &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}
		}, []want{{invalid, "spec.defaultBackend"}}},
		{"backend without port", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) {
			ing(o).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{}
		}, []want{{required, "spec.rules[0].http.paths[0].backend"}}},
		{"backend port name and number", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) {
			ing(o).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "http"
		}, []want{{invalid, "spec.rules[0].http.paths[0].backend"}}},
		{"backend service name", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) {
			ing(o).Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "1test"
		}, []want{{invalid, "spec.rules[0].http.paths[0].backend.service.name"}}},
		{"TLS secret name", ingFile, "Ingress/shop", func(o runtime.Object) { ing(o).Spec.TLS[0].SecretName = "Shop_TLS" }, []want{{invalid, "spec.tls[0].secretName"}}},
		{"class annotation disagrees", ingFile, "Ingress/minimal-ingress", func(o runtime.Object) {
			ing(o).Annotations["kubernetes.io/ingress.class"] = "traefik"
		}, []want{{invalid, "annotations.kubernetes.io/ingress.class"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, typ := load(t, tc.file, tc.kindName)
			tc.mutate(obj)
			errs := typ.Validate(obj)
			for _, w := range tc.want {
				if !hasCause(errs, w) {
					t.Errorf("want %s, got:%s", w, describe(errs))
				}
			}
		})
	}
}

// TestTemplatesAreLenientWherePodsAreNot covers the rules Kubernetes
// applies to a Pod but not to a pod template.
func TestTemplatesAreLenientWherePodsAreNot(t *testing.T) {
	obj, typ := load(t, webFile, webName)
	d := deploy(obj)
	d.Spec.Template.Spec.Containers[0].Image = "web:1 "
	d.Spec.Template.Spec.HostNetwork = true
	d.Spec.Template.Spec.Containers[0].Ports[0].HostPort = 0 // filled in when the pod is created
	if errs := typ.Validate(obj); len(errs) != 0 {
		t.Fatalf("template refused:%s", describe(errs))
	}
}
