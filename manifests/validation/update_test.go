package validation_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/manifests/defaults"
	"github.com/skiff-dev/skiff/manifests/validation"
)

type updateCase struct {
	name     string
	file     string
	kindName string
	// before adjusts the stored object, after builds the update from it.
	before, after func(runtime.Object)
	// want lists the causes; none means the update must be accepted.
	want []want
}

// TestUpdates checks which changes Kubernetes lets through and which it
// refuses as immutable.
func TestUpdates(t *testing.T) {
	mutableCronName := func(o runtime.Object) { cron(o).Name = "a-cronjob-name-that-is-longer-than-fifty-two-characters" }
	suspend := func(o runtime.Object) { job(o).Spec.Suspend = ptr.To(true) }
	immutableCM := func(o runtime.Object) { o.(*corev1.ConfigMap).Immutable = ptr.To(true) }
	cases := []updateCase{
		// Pods.
		{name: "pod image", file: podFile, kindName: podName, after: func(o runtime.Object) { ctr(o).Image = "api:2.2.0" }},
		{name: "init container image", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Spec.InitContainers[0].Image = "migrate:2" }},
		{name: "pod labels", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Labels["canary"] = "true" }},
		{name: "added toleration", file: podFile, kindName: podName, after: func(o runtime.Object) {
			pod(o).Spec.Tolerations = append(pod(o).Spec.Tolerations, corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists})
		}},
		{name: "tolerationSeconds of an existing toleration", file: podFile, kindName: podName, after: func(o runtime.Object) {
			pod(o).Spec.Tolerations[1].TolerationSeconds = ptr.To[int64](60)
		}},
		{name: "removed toleration", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Spec.Tolerations = pod(o).Spec.Tolerations[1:] },
			want: []want{{forbidden, "spec.tolerations"}}},
		{name: "activeDeadlineSeconds set", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](600) }},
		{name: "activeDeadlineSeconds lengthened", file: podFile, kindName: podName,
			before: func(o runtime.Object) { pod(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](600) },
			after:  func(o runtime.Object) { pod(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](900) },
			want:   []want{{invalid, "spec.activeDeadlineSeconds"}}},
		{name: "negative grace period set to 1", file: podFile, kindName: podName,
			before: func(o runtime.Object) { pod(o).Spec.TerminationGracePeriodSeconds = ptr.To[int64](-1) },
			after:  func(o runtime.Object) { pod(o).Spec.TerminationGracePeriodSeconds = ptr.To[int64](1) }},
		{name: "grace period changed", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Spec.TerminationGracePeriodSeconds = ptr.To[int64](60) },
			want: []want{{forbidden, "spec"}}},
		{name: "pod env changed", file: podFile, kindName: podName, after: func(o runtime.Object) { ctr(o).Env = ctr(o).Env[1:] },
			want: []want{{forbidden, "spec"}}},
		{name: "container added", file: podFile, kindName: podName, after: func(o runtime.Object) {
			pod(o).Spec.Containers = append(pod(o).Spec.Containers, *ctr(o).DeepCopy())
			pod(o).Spec.Containers[1].Name = "copy"
		}, want: []want{{forbidden, "spec.containers"}}},
		{name: "scheduling gate removed, node selector added while gated", file: podFile, kindName: podName,
			before: func(o runtime.Object) {
				pod(o).Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}, {Name: "example.com/review"}}
			},
			after: func(o runtime.Object) {
				pod(o).Spec.SchedulingGates = pod(o).Spec.SchedulingGates[1:]
				pod(o).Spec.NodeSelector["topology.kubernetes.io/zone"] = "a"
			}},
		{name: "scheduling gate added", file: podFile, kindName: podName, after: func(o runtime.Object) {
			pod(o).Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/late"}}
		}, want: []want{{forbidden, "spec.schedulingGates[0].name"}}},
		{name: "pod renamed", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).Name = "api-2" },
			want: []want{{invalid, "metadata.name"}}},
		{name: "update without resourceVersion", file: podFile, kindName: podName, after: func(o runtime.Object) { pod(o).ResourceVersion = "" },
			want: []want{{invalid, "metadata.resourceVersion"}}},
		{name: "mirror pod annotation added", file: podFile, kindName: podName, after: func(o runtime.Object) {
			pod(o).Annotations["kubernetes.io/config.mirror"] = "abc"
			pod(o).Spec.NodeName = "skiff-agent-1"
		}, want: []want{{forbidden, "metadata.annotations[kubernetes.io/config.mirror]"}}},
		{name: "invalid deletion cost kept from the stored pod", file: podFile, kindName: podName,
			before: func(o runtime.Object) { pod(o).Annotations["controller.kubernetes.io/pod-deletion-cost"] = "007" },
			after:  func(o runtime.Object) { pod(o).Labels["seen"] = "yes" }},

		// Workloads.
		{name: "deployment scaled and rolled", file: webFile, kindName: webName, after: func(o runtime.Object) {
			deploy(o).Spec.Replicas = ptr.To[int32](10)
			deploy(o).Spec.Template.Spec.Containers[0].Image = "ghcr.io/example/web:1.5.0"
			deploy(o).Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}},
		{name: "deployment selector", file: webFile, kindName: webName, after: func(o runtime.Object) {
			deploy(o).Spec.Selector.MatchExpressions = nil
		}, want: []want{{invalid, "spec.selector"}}},
		{name: "replicaset selector", file: clFile, kindName: "ReplicaSet/web-6d8f9c7b5", after: func(o runtime.Object) {
			rs := o.(*appsv1.ReplicaSet)
			delete(rs.Spec.Selector.MatchLabels, "pod-template-hash")
		}, want: []want{{invalid, "spec.selector"}}},
		{name: "daemonset selector", file: "daemonset-fluentd.yaml", kindName: "DaemonSet/fluentd-elasticsearch", after: func(o runtime.Object) {
			ds(o).Spec.Selector.MatchLabels["tier"] = "logging"
			ds(o).Spec.Template.Labels["tier"] = "logging"
		}, want: []want{{invalid, "spec.selector"}}},
		{name: "statefulset mutable fields", file: "statefulset-web.yaml", kindName: "StatefulSet/web", after: func(o runtime.Object) {
			s := sts(o)
			s.Spec.Replicas = ptr.To[int32](5)
			s.Spec.MinReadySeconds = 0
			s.Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/nginx-slim:0.27"
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
			s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
			s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
		}},
		{name: "statefulset serviceName", file: "statefulset-web.yaml", kindName: "StatefulSet/web", after: func(o runtime.Object) { sts(o).Spec.ServiceName = "web" },
			want: []want{{forbidden, "spec"}}},
		{name: "statefulset volume claim size", file: "statefulset-web.yaml", kindName: "StatefulSet/web", after: func(o runtime.Object) {
			sts(o).Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		}, want: []want{{forbidden, "spec"}}},
		{name: "statefulset podManagementPolicy", file: "statefulset-web.yaml", kindName: "StatefulSet/web", after: func(o runtime.Object) {
			sts(o).Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		}, want: []want{{forbidden, "spec"}}},
		{name: "controller revision data", file: clFile, kindName: "ControllerRevision/web-6d8f9c7b5", after: func(o runtime.Object) {
			o.(*appsv1.ControllerRevision).Data = runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}
		}, want: []want{{invalid, "data"}}},

		// Jobs and CronJobs.
		{name: "job parallelism", file: jobsFile, kindName: "Job/pi", after: func(o runtime.Object) { job(o).Spec.Parallelism = ptr.To[int32](0) }},
		{name: "job suspended and resumed", file: jobsFile, kindName: "Job/pi", after: suspend},
		{name: "job image", file: jobsFile, kindName: "Job/pi", after: func(o runtime.Object) { job(o).Spec.Template.Spec.Containers[0].Image = "perl:5.36" },
			want: []want{{invalid, "spec.template"}}},
		{name: "scheduling directives of a suspended job", file: jobsFile, kindName: "Job/pi", before: suspend, after: func(o runtime.Object) {
			s := &job(o).Spec.Template.Spec
			s.NodeSelector = map[string]string{"pool": "batch"}
			s.Tolerations = []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists}}
			job(o).Spec.Template.Annotations = map[string]string{"queue": "low"}
		}},
		{name: "image of a suspended job", file: jobsFile, kindName: "Job/pi", before: suspend, after: func(o runtime.Object) {
			job(o).Spec.Template.Spec.Containers[0].Image = "perl:5.36"
		}, want: []want{{invalid, "spec.template"}}},
		{name: "completions of a NonIndexed job", file: jobsFile, kindName: "Job/pi", after: func(o runtime.Object) { job(o).Spec.Completions = ptr.To[int32](3) },
			want: []want{{invalid, "spec.completions"}}},
		{name: "indexed job scaled", file: jobsFile, kindName: "Job/indexed", after: func(o runtime.Object) {
			job(o).Spec.Completions, job(o).Spec.Parallelism = ptr.To[int32](8), ptr.To[int32](8)
		}},
		{name: "indexed job completions alone", file: jobsFile, kindName: "Job/indexed", after: func(o runtime.Object) { job(o).Spec.Completions = ptr.To[int32](8) },
			want: []want{{invalid, "spec.completions"}}},
		{name: "job completionMode", file: jobsFile, kindName: "Job/pi", after: func(o runtime.Object) {
			job(o).Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}, want: []want{{invalid, "spec.completionMode"}}},
		{name: "job selector", file: jobsFile, kindName: "Job/manual", after: func(o runtime.Object) {
			job(o).Spec.Selector.MatchLabels["extra"] = "x"
		}, want: []want{{invalid, "spec.selector"}}},
		{name: "cronjob schedule and suspend", file: cronFile, kindName: "CronJob/hello", after: func(o runtime.Object) {
			cron(o).Spec.Schedule = "0 3 * * 0"
			cron(o).Spec.Suspend = ptr.To(true)
		}},
		{name: "cronjob stored with a long name stays updatable", file: cronFile, kindName: "CronJob/hello", before: mutableCronName,
			after: func(o runtime.Object) { cron(o).Spec.Schedule = "@daily" }},

		// Services.
		{name: "service ports and selector", file: svcFile, kindName: "Service/with-ip", after: func(o runtime.Object) {
			svc(o).Spec.Selector = map[string]string{"app": "web", "track": "stable"}
			svc(o).Spec.Ports[0].TargetPort.IntVal = 8080
		}},
		{name: "service cluster IP", file: svcFile, kindName: "Service/with-ip", after: func(o runtime.Object) {
			svc(o).Spec.ClusterIP, svc(o).Spec.ClusterIPs = "10.96.100.6", []string{"10.96.100.6"}
		}, want: []want{{invalid, "spec.clusterIPs[0]"}}},
		{name: "service to ExternalName", file: svcFile, kindName: "Service/with-ip", after: func(o runtime.Object) {
			s := svc(o)
			s.Spec.Type, s.Spec.ExternalName, s.Spec.ExternalIPs, s.Spec.Selector = corev1.ServiceTypeExternalName, "web.example.com", nil, nil
		}},
		{name: "service replaced from a manifest without clusterIP", file: svcFile, kindName: "Service/with-ip", after: func(o runtime.Object) {
			svc(o).Spec.ClusterIP, svc(o).Spec.ClusterIPs = "", nil
		}},
		{name: "NodePort service turned ClusterIP", file: svcFile, kindName: "Service/web-np", after: func(o runtime.Object) { svc(o).Spec.Type = corev1.ServiceTypeClusterIP }},

		// ConfigMaps, Secrets, Nodes, slices, events, ingresses.
		{name: "configmap data", file: cfgFile, kindName: "ConfigMap/game-demo", after: func(o runtime.Object) { o.(*corev1.ConfigMap).Data["x"] = "y" }},
		{name: "immutable configmap data", file: cfgFile, kindName: "ConfigMap/frozen", after: func(o runtime.Object) { o.(*corev1.ConfigMap).Data["key"] = "other" },
			want: []want{{forbidden, "data"}}},
		{name: "immutable configmap made mutable", file: cfgFile, kindName: "ConfigMap/frozen", after: func(o runtime.Object) { o.(*corev1.ConfigMap).Immutable = nil },
			want: []want{{forbidden, "immutable"}}},
		{name: "immutable configmap binaryData", file: cfgFile, kindName: "ConfigMap/game-demo", before: immutableCM,
			after: func(o runtime.Object) { o.(*corev1.ConfigMap).BinaryData["logo.png"] = []byte("png") },
			want:  []want{{forbidden, "binaryData"}}},
		{name: "secret data", file: cfgFile, kindName: "Secret/db", after: func(o runtime.Object) { o.(*corev1.Secret).Data["password"] = []byte("new") }},
		{name: "immutable secret data", file: cfgFile, kindName: "Secret/db",
			before: func(o runtime.Object) { o.(*corev1.Secret).Immutable = ptr.To(true) },
			after:  func(o runtime.Object) { o.(*corev1.Secret).StringData = map[string]string{"password": "new"} },
			want:   []want{{forbidden, "data"}}},
		{name: "secret type", file: cfgFile, kindName: "Secret/db", after: func(o runtime.Object) { o.(*corev1.Secret).Type = "example.com/custom" },
			want: []want{{invalid, "type"}}},
		{name: "node pod CIDR assigned", file: clFile, kindName: "Node/skiff-agent-1",
			before: func(o runtime.Object) { o.(*corev1.Node).Spec.PodCIDR, o.(*corev1.Node).Spec.PodCIDRs = "", nil },
			after:  func(o runtime.Object) { o.(*corev1.Node).Spec.PodCIDRs = []string{"10.244.2.0/24"} }},
		{name: "node pod CIDR changed", file: clFile, kindName: "Node/skiff-agent-1", after: func(o runtime.Object) {
			o.(*corev1.Node).Spec.PodCIDR, o.(*corev1.Node).Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"}
		}, want: []want{{forbidden, "spec.podCIDRs"}}},
		{name: "node cordoned and tainted", file: clFile, kindName: "Node/skiff-agent-1", after: func(o runtime.Object) {
			n := o.(*corev1.Node)
			n.Spec.Unschedulable = true
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule})
		}},
		{name: "node provider ID changed", file: clFile, kindName: "Node/skiff-agent-1",
			before: func(o runtime.Object) { o.(*corev1.Node).Spec.ProviderID = "skiff://agent-1" },
			after:  func(o runtime.Object) { o.(*corev1.Node).Spec.ProviderID = "skiff://agent-2" },
			want:   []want{{forbidden, "spec.providerID"}}},
		{name: "endpointslice addressType", file: clFile, kindName: "EndpointSlice/external-db-xyz", after: func(o runtime.Object) {
			slice(o).AddressType = "IPv4"
			slice(o).Endpoints[0].Addresses = []string{"10.1.2.3"}
		}, want: []want{{invalid, "addressType"}}},
		{name: "event series", file: clFile, kindName: "Event/web-1.17f2a3b4c5d6e800", after: func(o runtime.Object) {
			o.(*eventsv1.Event).Series = &eventsv1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(metav1.Now().Time)}
		}},
		{name: "event note", file: clFile, kindName: "Event/web-1.17f2a3b4c5d6e800", after: func(o runtime.Object) { o.(*eventsv1.Event).Note = "edited" },
			want: []want{{invalid, "message"}}},
		{name: "core event count", file: clFile, kindName: "Event/web-1.17f2a3b4c5d6e7f8", after: func(o runtime.Object) { o.(*corev1.Event).Count = 2 }},
		{name: "ingress keeps a TLS secret name older versions accepted", file: ingFile, kindName: "Ingress/shop",
			before: func(o runtime.Object) { ing(o).Spec.TLS[0].SecretName = "Shop_TLS" },
			after:  func(o runtime.Object) { ing(o).Spec.Rules[1].HTTP.Paths[0].Backend.Service.Name = "web-v2" }},
		{name: "ingress TLS secret name made invalid", file: ingFile, kindName: "Ingress/shop",
			after: func(o runtime.Object) { ing(o).Spec.TLS[0].SecretName = "Shop_TLS" },
			want:  []want{{invalid, "spec.tls[0].secretName"}}},
		{name: "ingress class", file: ingFile, kindName: "Ingress/minimal-ingress", after: func(o runtime.Object) {
			ing(o).Spec.IngressClassName = ptr.To("traefik")
			ing(o).Spec.Rules[0].HTTP.Paths = append(ing(o).Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{
				Path: "/v2", PathType: ptr.To(networkingv1.PathTypeExact), Backend: ing(o).Spec.Rules[0].HTTP.Paths[0].Backend})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old, typ := load(t, tc.file, tc.kindName)
			stored(old)
			if tc.before != nil {
				tc.before(old)
			}
			typ.Default(old)
			obj := old.DeepCopyObject()
			tc.after(obj)
			typ.Default(obj)
			if s, ok := obj.(*corev1.Service); ok {
				defaults.ServiceForUpdate(s, old.(*corev1.Service))
			}
			errs := typ.ValidateUpdate(obj, old)
			if len(tc.want) == 0 && len(errs) != 0 {
				t.Fatalf("update refused:%s", describe(errs))
			}
			for _, w := range tc.want {
				if !hasCause(errs, w) {
					t.Errorf("want %s, got:%s", w, describe(errs))
				}
			}
		})
	}
}

// TestServiceUpdateNeedsTheServerToKeepItsIP shows why the API server runs
// defaults.ServiceForUpdate: without it, a manifest that leaves clusterIP
// out reads as releasing the IP, which Kubernetes refuses.
func TestServiceUpdateNeedsTheServerToKeepItsIP(t *testing.T) {
	old, _ := load(t, svcFile, "Service/with-ip")
	stored(old)
	s := old.(*corev1.Service).DeepCopy()
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil
	errs := validation.ValidateServiceUpdate(s, old.(*corev1.Service))
	if !hasCause(errs, want{invalid, "spec.clusterIPs[0]"}) {
		t.Fatalf("want the primary clusterIP refused, got:%s", describe(errs))
	}
	defaults.ServiceForUpdate(s, old.(*corev1.Service))
	if s.Spec.ClusterIP != "10.96.100.5" {
		t.Fatalf("clusterIP = %q, want the allocated 10.96.100.5 carried over", s.Spec.ClusterIP)
	}
	if errs := validation.ValidateServiceUpdate(s, old.(*corev1.Service)); len(errs) != 0 {
		t.Fatalf("update refused:%s", describe(errs))
	}
}

// An immutable ConfigMap stored with binaryData only reads back with no
// data map at all; relabelling it must not count as changing its data.
func TestImmutableConfigMapEmptyDataIsUnchanged(t *testing.T) {
	old := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "logo", Namespace: "default", ResourceVersion: "3"},
		Immutable:  ptr.To(true),
		BinaryData: map[string][]byte{"logo.png": []byte("png")},
	}
	obj := old.DeepCopy()
	defaults.ConfigMap(obj)
	obj.Labels = map[string]string{"app": "web"}
	if errs := validation.ValidateConfigMapUpdate(obj, old); len(errs) != 0 {
		t.Fatalf("relabel refused:%s", describe(errs))
	}
}
