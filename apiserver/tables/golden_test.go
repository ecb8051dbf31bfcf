package tables

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what kubectl's table printer prints now")

// golden is one `kubectl get` of a list of objects, checked against
// testdata/<name>.golden.
type golden struct {
	name     string // file name and the resource typed after `kubectl get`
	gvk      schema.GroupVersionKind
	objects  []runtime.Object
	extraArg string // a third run with this flag: -A or --show-kind
}

// kubectlRun is a `kubectl get` flag and the print options kubectl derives
// from it.
type kubectlRun struct {
	args string
	opts printers.PrintOptions
}

// TestGolden serves each list as the Table the API server answers, decodes
// it as kubectl does, and prints it with kubectl's own table printer
// (k8s.io/cli-runtime), plain and with -o wide. Run with -update to rewrite
// the golden files.
func TestGolden(t *testing.T) {
	for _, g := range goldens() {
		t.Run(g.name, func(t *testing.T) {
			var out bytes.Buffer
			runs := []kubectlRun{
				{"", printers.PrintOptions{}},
				{" -o wide", printers.PrintOptions{Wide: true}},
			}
			switch g.extraArg {
			case "-A":
				runs = append(runs, kubectlRun{" -A", printers.PrintOptions{WithNamespace: true}})
			case "--show-kind":
				runs = append(runs, kubectlRun{" --show-kind", printers.PrintOptions{WithKind: true, Kind: g.gvk.GroupKind()}})
			}
			for _, run := range runs {
				fmt.Fprintf(&out, "$ kubectl get %s%s\n", g.name, run.args)
				table := asKubectlSees(t, serveTable(t, For(g.gvk), g.objects))
				if err := printers.NewTablePrinter(run.opts).PrintObj(table, &out); err != nil {
					t.Fatalf("print: %v", err)
				}
				out.WriteString("\n")
			}

			path := filepath.Join("testdata", g.name+".golden")
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test with -update to write it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s differs from what kubectl prints now:\n--- got\n%s--- want\n%s", path, out.Bytes(), want)
			}
		})
	}
}

// serveTable is the Table JSON the API server answers for a list: the
// printer's columns and cells, each row carrying the object's metadata as a
// PartialObjectMetadata.
func serveTable(t *testing.T, p Printer, objects []runtime.Object) []byte {
	t.Helper()
	table := metav1.Table{
		TypeMeta:          metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ListMeta:          metav1.ListMeta{ResourceVersion: "4242"},
		ColumnDefinitions: p.Columns,
	}
	for _, obj := range objects {
		cells, err := p.Row(obj, now)
		if err != nil {
			t.Fatalf("row of %T: %v", obj, err)
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			t.Fatal(err)
		}
		partial, err := json.Marshal(metav1.PartialObjectMetadata{
			TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
			ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), Labels: m.GetLabels(),
				CreationTimestamp: m.GetCreationTimestamp(), DeletionTimestamp: m.GetDeletionTimestamp()},
		})
		if err != nil {
			t.Fatal(err)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Raw: partial}})
	}
	data, err := json.Marshal(table)
	if err != nil {
		t.Fatalf("marshal table: %v", err)
	}
	return data
}

// asKubectlSees decodes a Table as kubectl get does (decodeIntoTable in
// k8s.io/kubectl/pkg/cmd/get): to unstructured first, then into a
// metav1.Table, the rows' objects back to unstructured.
func asKubectlSees(t *testing.T, data []byte) *metav1.Table {
	t.Helper()
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	table := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.(*unstructured.Unstructured).Object, table); err != nil {
		t.Fatalf("to table: %v", err)
	}
	for i := range table.Rows {
		row := &table.Rows[i]
		if row.Object.Raw == nil || row.Object.Object != nil {
			continue
		}
		if row.Object.Object, err = runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw); err != nil {
			t.Fatalf("row object: %v", err)
		}
	}
	return table
}

func inNamespace(obj runtime.Object, ns string) runtime.Object {
	m, _ := meta.Accessor(obj)
	m.SetNamespace(ns)
	return obj
}

func goldens() []golden {
	core, apps := corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion
	return []golden{
		{name: "pods", gvk: core.WithKind("Pod"), objects: goldenPods(), extraArg: "-A"},
		{name: "services", gvk: core.WithKind("Service"), objects: goldenServices()},
		{name: "nodes", gvk: core.WithKind("Node"), objects: goldenNodes()},
		{name: "events", gvk: core.WithKind("Event"), objects: goldenEvents()},
		{name: "deployments", gvk: apps.WithKind("Deployment"), objects: goldenDeployments(), extraArg: "--show-kind"},
		{name: "replicasets", gvk: apps.WithKind("ReplicaSet"), objects: goldenReplicaSets()},
		{name: "statefulsets", gvk: apps.WithKind("StatefulSet"), objects: []runtime.Object{
			&appsv1.StatefulSet{ObjectMeta: objectMeta("db", 3*time.Minute),
				Spec:   appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: template("postgres", "exporter")},
				Status: appsv1.StatefulSetStatus{Replicas: 2, ReadyReplicas: 1}},
			&appsv1.StatefulSet{ObjectMeta: objectMeta("redis", 12*24*time.Hour),
				Spec:   appsv1.StatefulSetSpec{Replicas: ptr(int32(1)), Template: template("redis")},
				Status: appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 1}},
		}},
		{name: "daemonsets", gvk: apps.WithKind("DaemonSet"), objects: []runtime.Object{
			&appsv1.DaemonSet{ObjectMeta: objectMeta("node-exporter", 10*24*time.Hour),
				Spec:   appsv1.DaemonSetSpec{Selector: selector("app", "node-exporter"), Template: template("exporter")},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}},
			&appsv1.DaemonSet{ObjectMeta: objectMeta("gpu-plugin", 2*time.Minute),
				Spec: appsv1.DaemonSetSpec{Selector: selector("app", "gpu-plugin"),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{NodeSelector: map[string]string{"gpu": "true"},
						Containers: []corev1.Container{{Name: "plugin", Image: "registry.local/gpu-plugin:0.9"}}}}},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1}},
		}},
		{name: "controllerrevisions", gvk: apps.WithKind("ControllerRevision"), objects: goldenControllerRevisions()},
		{name: "jobs", gvk: batchv1.SchemeGroupVersion.WithKind("Job"), objects: goldenJobs()},
		{name: "cronjobs", gvk: batchv1.SchemeGroupVersion.WithKind("CronJob"), objects: goldenCronJobs()},
		{name: "endpoints", gvk: core.WithKind("Endpoints"), objects: goldenEndpoints()},
		{name: "endpointslices", gvk: discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), objects: []runtime.Object{
			&discoveryv1.EndpointSlice{ObjectMeta: objectMeta("kubernetes", 40*24*time.Hour), AddressType: discoveryv1.AddressTypeIPv4,
				Ports:     []discoveryv1.EndpointPort{{Name: ptr("https"), Port: ptr(int32(6443))}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"172.18.0.2"}}}},
			&discoveryv1.EndpointSlice{ObjectMeta: objectMeta("web-x7k2p", 2*time.Hour), AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}, {Name: ptr("https"), Port: ptr(int32(443))}},
				Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.7"}}, {Addresses: []string{"10.42.0.8"}},
					{Addresses: []string{"10.42.1.3"}}, {Addresses: []string{"10.42.1.4"}}}},
			&discoveryv1.EndpointSlice{ObjectMeta: objectMeta("db-q9w8e", 6*time.Hour), AddressType: discoveryv1.AddressTypeIPv4},
		}},
		{name: "ingresses", gvk: networkingv1.SchemeGroupVersion.WithKind("Ingress"), objects: []runtime.Object{
			&networkingv1.Ingress{ObjectMeta: objectMeta("shop", 6*time.Hour),
				Spec: networkingv1.IngressSpec{IngressClassName: ptr("traefik"),
					Rules: []networkingv1.IngressRule{{Host: "shop.example.com"}, {Host: "www.shop.example.com"}},
					TLS:   []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}}},
				Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "172.18.0.2"}, {IP: "172.18.0.3"}}}}},
			&networkingv1.Ingress{ObjectMeta: objectMeta("catch-all", 5*time.Second),
				Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}},
		{name: "leases", gvk: coordinationv1.SchemeGroupVersion.WithKind("Lease"), objects: []runtime.Object{
			inNamespace(&coordinationv1.Lease{ObjectMeta: objectMeta("skiff-node-1", 9*24*time.Hour),
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("skiff-node-1")}}, "kube-node-lease"),
			inNamespace(&coordinationv1.Lease{ObjectMeta: objectMeta("skiff-node-2", 3*time.Hour),
				Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("skiff-node-2")}}, "kube-node-lease"),
		}},
		{name: "configmaps", gvk: core.WithKind("ConfigMap"), objects: []runtime.Object{
			&corev1.ConfigMap{ObjectMeta: objectMeta("kube-root-ca.crt", 40*24*time.Hour), Data: map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----"}},
			&corev1.ConfigMap{ObjectMeta: objectMeta("settings", 2*time.Minute), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"logo.png": {0x89}}},
		}},
		{name: "secrets", gvk: core.WithKind("Secret"), objects: []runtime.Object{
			&corev1.Secret{ObjectMeta: objectMeta("db-password", 10*time.Minute), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}},
			&corev1.Secret{ObjectMeta: objectMeta("web-tls", 3*24*time.Hour), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			&corev1.Secret{ObjectMeta: objectMeta("registry", 3*24*time.Hour), Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": nil}},
		}},
		{name: "serviceaccounts", gvk: core.WithKind("ServiceAccount"), objects: []runtime.Object{
			&corev1.ServiceAccount{ObjectMeta: objectMeta("default", 40*24*time.Hour)},
			&corev1.ServiceAccount{ObjectMeta: objectMeta("builder", time.Hour), Secrets: []corev1.ObjectReference{{Name: "builder-token"}}},
		}},
		{name: "namespaces", gvk: core.WithKind("Namespace"), objects: []runtime.Object{
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: ago(40 * 24 * time.Hour)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", CreationTimestamp: ago(40 * 24 * time.Hour)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "staging", CreationTimestamp: ago(2 * 365 * 24 * time.Hour)}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
		}},
		{name: "roles.rbac.authorization.k8s.io", gvk: rbacv1.SchemeGroupVersion.WithKind("Role"), objects: []runtime.Object{
			&rbacv1.Role{ObjectMeta: objectMeta("pod-reader", 26*time.Hour)},
			&rbacv1.Role{ObjectMeta: objectMeta("leader-election", 90*time.Second)},
		}},
	}
}

func goldenPods() []runtime.Object {
	web1 := pod("web-7d4b9c8f5-x2x9k", 5*time.Minute, "nginx")
	web1.Spec.NodeName = "skiff-node-1"
	web1.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.7",
		Conditions:        []corev1.PodCondition{condition(corev1.PodInitialized, "True"), condition(corev1.PodReady, "True")},
		ContainerStatuses: []corev1.ContainerStatus{running("nginx", 0)}}
	web2 := pod("web-7d4b9c8f5-q8z7m", 26*time.Hour, "nginx")
	web2.Spec.NodeName = "skiff-node-2"
	web2.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.1.4",
		Conditions:        []corev1.PodCondition{condition(corev1.PodReady, "True")},
		ContainerStatuses: []corev1.ContainerStatus{lastDied(running("nginx", 1), 25*time.Hour)}}
	crashing := pod("api-5f9c6d7b8-abcde", 3*time.Hour, "api")
	crashing.Spec.NodeName = "skiff-node-1"
	crashing.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.9",
		ContainerStatuses: []corev1.ContainerStatus{lastDied(waiting("api", "CrashLoopBackOff", 37), 150*time.Second)}}
	initPod := withInit(pod("db-0", 40*time.Second, "postgres"), false, "chown", "migrate")
	initPod.Spec.NodeName = "skiff-node-2"
	initPod.Status = corev1.PodStatus{Phase: corev1.PodPending, PodIP: "10.42.1.9",
		InitContainerStatuses: []corev1.ContainerStatus{terminated("chown", "Completed", 0, 0),
			{Name: "migrate", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		ContainerStatuses: []corev1.ContainerStatus{waiting("postgres", "PodInitializing", 0)}}
	terminatingPod := pod("web-6c5b4a3f2-old01", 2*24*time.Hour, "nginx")
	terminatingPod.Spec.NodeName = "skiff-node-1"
	terminatingPod.DeletionTimestamp = agoPtr(3 * time.Second)
	terminatingPod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.3",
		ContainerStatuses: []corev1.ContainerStatus{running("nginx", 0)}}
	completed := pod("pi-8kq2n", 2*time.Hour, "pi")
	completed.Spec.NodeName = "skiff-node-2"
	completed.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "pi", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", FinishedAt: ago(2 * time.Hour)}}}}}
	pending := pod("big-job-worker", 12*time.Second, "worker")
	pending.Status = corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "skiff-node-2"}
	gates := pod("lb-backed-5d9f7", 7*24*time.Hour, "app", "sidecar")
	gates.Spec.NodeName = "skiff-node-1"
	gates.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	gates.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.11",
		Conditions:        []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{running("app", 0), running("sidecar", 0)}}
	coredns := pod("coredns-6799fbcd5-lq2xr", 40*24*time.Hour, "coredns")
	coredns.Spec.NodeName = "skiff-node-1"
	coredns.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0.2",
		ContainerStatuses: []corev1.ContainerStatus{running("coredns", 0)}}
	return []runtime.Object{web1, web2, crashing, initPod, terminatingPod, completed, pending, gates, inNamespace(coredns, "kube-system")}
}

func goldenServices() []runtime.Object {
	return []runtime.Object{
		&corev1.Service{ObjectMeta: objectMeta("kubernetes", 40*24*time.Hour), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.43.0.1"},
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: objectMeta("web", 2*time.Hour), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.43.12.7"}, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: objectMeta("ingress", 25*time.Minute),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.200.1"}, Selector: map[string]string{"app": "ingress"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 31080, Protocol: corev1.ProtocolTCP}, {Port: 443, NodePort: 31443, Protocol: corev1.ProtocolTCP}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}, {IP: "203.0.113.11"}}}}},
		&corev1.Service{ObjectMeta: objectMeta("pending-lb", 30*time.Second), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.43.200.2"},
			Ports: []corev1.ServicePort{{Port: 8080, NodePort: 32000, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: objectMeta("db", 6*time.Hour), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone},
			Selector: map[string]string{"app": "db", "role": "primary"}, Ports: []corev1.ServicePort{{Port: 5432, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: objectMeta("search", 3*24*time.Hour), Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeExternalName, ExternalName: "search.example.com"}},
	}
}

func goldenNodes() []runtime.Object {
	info := corev1.NodeSystemInfo{KubeletVersion: "v1.33.0-skiff", OSImage: "Debian GNU/Linux 12 (bookworm)",
		KernelVersion: "6.1.0-37-amd64", ContainerRuntimeVersion: "docker://20.10.24"}
	server := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "skiff-server", CreationTimestamp: ago(9 * 24 * time.Hour),
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
		Status: corev1.NodeStatus{NodeInfo: info,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}, {Type: corev1.NodeHostName, Address: "skiff-server"}}},
	}
	worker := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "skiff-node-2", CreationTimestamp: ago(3 * time.Hour),
			Labels: map[string]string{"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/gpu": ""}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{NodeInfo: info,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.7"}}},
	}
	joining := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "skiff-node-3", CreationTimestamp: ago(4 * time.Second)}}
	return []runtime.Object{server, worker, joining}
}

func goldenEvents() []runtime.Object {
	return []runtime.Object{
		&corev1.Event{ObjectMeta: objectMeta("web-7d4b9c8f5-x2x9k.18441a2b3c4d5e6f", 5*time.Minute),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d4b9c8f5-x2x9k"},
			Reason:         "Scheduled", Message: "Successfully assigned default/web-7d4b9c8f5-x2x9k to skiff-node-1",
			EventTime: microAgo(5 * time.Minute), ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-skiff-server",
			Action: "Binding", Type: corev1.EventTypeNormal},
		&corev1.Event{ObjectMeta: objectMeta("web-7d4b9c8f5-x2x9k.18441a2b3c4d5e70", 5*time.Minute),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d4b9c8f5-x2x9k", FieldPath: "spec.containers{nginx}"},
			Reason:         "Pulled", Message: "Container image \"nginx:1.27\" already present on machine",
			Source:         corev1.EventSource{Component: "kubelet", Host: "skiff-node-1"},
			FirstTimestamp: ago(5 * time.Minute), LastTimestamp: ago(5 * time.Minute), Count: 1, Type: corev1.EventTypeNormal},
		&corev1.Event{ObjectMeta: objectMeta("api-5f9c6d7b8-abcde.18441a2b3c4d5e71", 3*time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "api-5f9c6d7b8-abcde", FieldPath: "spec.containers{api}"},
			Reason:         "BackOff", Message: "Back-off restarting failed container api in pod api-5f9c6d7b8-abcde_default(0b6c)",
			Source:         corev1.EventSource{Component: "kubelet", Host: "skiff-node-1"},
			FirstTimestamp: ago(3 * time.Hour), LastTimestamp: ago(20 * time.Second), Count: 812, Type: corev1.EventTypeWarning},
		&corev1.Event{ObjectMeta: objectMeta("web.18441a2b3c4d5e72", 26*time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: "web"},
			Reason:         "ScalingReplicaSet", Message: "Scaled up replica set web-7d4b9c8f5 to 3 from 1",
			EventTime: microAgo(26 * time.Hour), Series: &corev1.EventSeries{Count: 4, LastObservedTime: microAgo(5 * time.Minute)},
			ReportingController: "deployment-controller", Type: corev1.EventTypeNormal},
	}
}

func goldenDeployments() []runtime.Object {
	return []runtime.Object{
		&appsv1.Deployment{ObjectMeta: objectMeta("web", 26*time.Hour),
			Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: selector("app", "web"), Template: template("nginx", "log-shipper")},
			Status: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 2}},
		&appsv1.Deployment{ObjectMeta: objectMeta("api", 3*time.Hour),
			Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(2)), Selector: selector("app", "api"), Template: template("api")},
			Status: appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}},
		&appsv1.Deployment{ObjectMeta: objectMeta("coredns", 40*24*time.Hour),
			Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(1)), Selector: selector("k8s-app", "kube-dns"), Template: template("coredns")},
			Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}},
	}
}

func goldenReplicaSets() []runtime.Object {
	return []runtime.Object{
		&appsv1.ReplicaSet{ObjectMeta: objectMeta("web-7d4b9c8f5", 5*time.Minute),
			Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(1)), Selector: selector("app", "web", "pod-template-hash", "7d4b9c8f5"), Template: template("nginx", "log-shipper")},
			Status: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1}},
		&appsv1.ReplicaSet{ObjectMeta: objectMeta("web-6c5b4a3f2", 26*time.Hour),
			Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: selector("app", "web", "pod-template-hash", "6c5b4a3f2"), Template: template("nginx", "log-shipper")},
			Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2}},
	}
}

func goldenControllerRevisions() []runtime.Object {
	rev := func(name string, revision int64, age time.Duration) *appsv1.ControllerRevision {
		cr := &appsv1.ControllerRevision{ObjectMeta: objectMeta(name, age), Revision: revision}
		cr.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)}}
		return cr
	}
	return []runtime.Object{rev("db-5d8f7c6b9", 1, 3*time.Hour), rev("db-6b7c8d9f4", 2, 3*time.Minute)}
}

func goldenJobs() []runtime.Object {
	return []runtime.Object{
		&batchv1.Job{ObjectMeta: objectMeta("pi", 2*time.Hour),
			Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Parallelism: ptr(int32(1)), Selector: selector("batch.kubernetes.io/controller-uid", "5c3b1f3e"), Template: template("pi")},
			Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(2 * time.Hour), CompletionTime: agoPtr(2*time.Hour - 47*time.Second),
				Conditions: []batchv1.JobCondition{trueCondition(batchv1.JobSuccessCriteriaMet), trueCondition(batchv1.JobComplete)}}},
		&batchv1.Job{ObjectMeta: objectMeta("backup", 3*time.Minute),
			Spec:   batchv1.JobSpec{Completions: ptr(int32(5)), Parallelism: ptr(int32(2)), Selector: selector("batch.kubernetes.io/controller-uid", "9a8b7c6d"), Template: template("restic")},
			Status: batchv1.JobStatus{Succeeded: 2, Active: 2, StartTime: agoPtr(3*time.Minute - 5*time.Second)}},
		&batchv1.Job{ObjectMeta: objectMeta("flaky", 30*time.Minute),
			Spec: batchv1.JobSpec{Completions: ptr(int32(1)), Selector: selector("batch.kubernetes.io/controller-uid", "1f2e3d4c"), Template: template("worker")},
			Status: batchv1.JobStatus{Failed: 7, StartTime: agoPtr(30 * time.Minute),
				Conditions: []batchv1.JobCondition{trueCondition(batchv1.JobFailureTarget), trueCondition(batchv1.JobFailed)}}},
	}
}

func goldenCronJobs() []runtime.Object {
	return []runtime.Object{
		&batchv1.CronJob{ObjectMeta: objectMeta("nightly-backup", 12*24*time.Hour),
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", TimeZone: ptr("Europe/Paris"), Suspend: ptr(true),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("restic")}}},
			Status: batchv1.CronJobStatus{LastScheduleTime: agoPtr(33 * time.Hour)}},
		&batchv1.CronJob{ObjectMeta: objectMeta("every-minute", 10*time.Minute),
			Spec: batchv1.CronJobSpec{Schedule: "*/1 * * * *", Suspend: ptr(false),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template("tick")}}},
			Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Kind: "Job", Name: "every-minute-29145720"}}, LastScheduleTime: agoPtr(12 * time.Second)}},
	}
}

func goldenEndpoints() []runtime.Object {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	return []runtime.Object{
		&corev1.Endpoints{ObjectMeta: objectMeta("kubernetes", 40*24*time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("172.18.0.2"), Ports: []corev1.EndpointPort{{Name: "https", Port: 6443}}}}},
		&corev1.Endpoints{ObjectMeta: objectMeta("web", 2*time.Hour), Subsets: []corev1.EndpointSubset{{
			Addresses: addrs("10.42.0.7", "10.42.0.8", "10.42.1.3", "10.42.1.4"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
		&corev1.Endpoints{ObjectMeta: objectMeta("db", 6*time.Hour), Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.42.1.9")}}},
		&corev1.Endpoints{ObjectMeta: objectMeta("pending-lb", 30*time.Second)},
	}
}
