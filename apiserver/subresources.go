package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// scaleOf returns the autoscaling/v1 Scale view of a workload.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var om metav1.ObjectMeta
	var replicas *int32
	var statusReplicas int32
	var selector *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.Deployment:
		om, replicas, statusReplicas, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	case *appsv1.ReplicaSet:
		om, replicas, statusReplicas, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	case *appsv1.StatefulSet:
		om, replicas, statusReplicas, selector = o.ObjectMeta, o.Spec.Replicas, o.Status.Replicas, o.Spec.Selector
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	sel := ""
	if selector != nil {
		s, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return nil, err
		}
		sel = s.String()
	}
	sc := &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: om.Name, Namespace: om.Namespace, UID: om.UID,
			ResourceVersion: om.ResourceVersion, CreationTimestamp: om.CreationTimestamp,
		},
		Status: autoscalingv1.ScaleStatus{Replicas: statusReplicas, Selector: sel},
	}
	if replicas != nil {
		sc.Spec.Replicas = *replicas
	}
	return sc, nil
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	}
}

func (s *Server) getScale(w http.ResponseWriter, r *http.Request, res *resource, e *storage.Entry) {
	obj, err := e.Object()
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	sc, err := scaleOf(obj)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	s.writeObject(w, r, http.StatusOK, sc)
}

// scalePatch is a patch to apply to the Scale view (PATCH …/scale).
type scalePatch struct {
	typ  string
	body []byte
}

// updateScale handles PUT and PATCH of …/scale: the new Scale is computed
// from the current one, and only spec.replicas reaches the workload. A
// resourceVersion in the Scale is a precondition on the workload's.
func (s *Server) updateScale(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo, sp *scalePatch) {
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	var body []byte
	if sp == nil {
		if body, err = s.readBody(w, r); err != nil {
			s.writeError(w, r, err, res.gr(), info.name)
			return
		}
	}
	e, err := s.guaranteedUpdate(r.Context(), res, info.namespace, info.name, "", p.dryRun,
		func(cur runtime.Object, e *storage.Entry) (runtime.Object, error) {
			curScale, err := scaleOf(cur)
			if err != nil {
				return nil, err
			}
			var next runtime.Object
			if sp != nil {
				curJSON, _ := json.Marshal(curScale)
				patched, err := applyPatch(sp.typ, curJSON, sp.body, &autoscalingv1.Scale{})
				if err != nil {
					return nil, err
				}
				next, _, err = s.decodeObject(patched, mediaJSON, scaleGVK, p.fv)
				if err != nil {
					return nil, err
				}
			} else {
				next, _, err = s.decodeObject(body, requestMediaType(r), scaleGVK, p.fv)
				if err != nil {
					return nil, err
				}
			}
			want := next.(*autoscalingv1.Scale)
			if want.Name != "" && want.Name != info.name {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", want.Name, info.name))
			}
			if want.Spec.Replicas < 0 {
				return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), info.name, fieldInvalid("spec.replicas", want.Spec.Replicas, "must be greater than or equal to 0"))
			}
			if want.ResourceVersion != "" && want.ResourceVersion != revString(e.Rev) {
				return nil, apierrors.NewConflict(res.gr(), info.name, fmt.Errorf("%s", conflictMessage))
			}
			setReplicas(cur, want.Spec.Replicas)
			return cur, nil
		})
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	obj, err := e.Object()
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	sc, err := scaleOf(obj)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	s.writeObject(w, r, http.StatusOK, sc)
}

// bind assigns a pod to a node (POST pods/<name>/binding), the scheduler's
// one write. It fails with 409 if the pod is already bound or being deleted.
func (s *Server) bind(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	p, err := s.parseWriteParams(r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	obj, _, err := s.decodeObject(body, requestMediaType(r), corev1.SchemeGroupVersion.WithKind("Binding"), p.fv)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	b := obj.(*corev1.Binding)
	if b.Name != "" && b.Name != info.name {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("the name of the binding (%s) does not match the pod (%s)", b.Name, info.name)), res.gr(), info.name)
		return
	}
	if b.Target.Name == "" {
		s.writeError(w, r, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), info.name, fieldRequired("target.name")), res.gr(), info.name)
		return
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		s.writeError(w, r, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), info.name, fieldInvalid("target.kind", b.Target.Kind, "must be empty or 'Node'")), res.gr(), info.name)
		return
	}
	_, err = s.guaranteedUpdate(r.Context(), res, info.namespace, info.name, "binding", p.dryRun,
		func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
			pod := cur.(*corev1.Pod)
			if pod.DeletionTimestamp != nil {
				return nil, apierrors.NewConflict(res.gr(), info.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", info.name))
			}
			if pod.Spec.NodeName != "" {
				return nil, apierrors.NewConflict(res.gr(), info.name, fmt.Errorf("pod %s is already assigned to node %q", info.name, pod.Spec.NodeName))
			}
			if b.UID != "" && b.UID != pod.UID {
				return nil, apierrors.NewConflict(res.gr(), info.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
			}
			pod.Spec.NodeName = b.Target.Name
			for k, v := range b.Annotations {
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations[k] = v
			}
			setPodCondition(&pod.Status, corev1.PodCondition{
				Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(s.now().Truncate(time.Second)),
			})
			return pod, nil
		})
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	s.writeObject(w, r, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess, Code: http.StatusCreated,
	})
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

func fieldInvalid(path string, value any, msg string) field.ErrorList {
	return field.ErrorList{field.Invalid(field.NewPath(path), value, msg)}
}

func fieldRequired(path string) field.ErrorList {
	return field.ErrorList{field.Required(field.NewPath(path), "")}
}
