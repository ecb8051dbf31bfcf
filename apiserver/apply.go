package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

// Server-side apply: PATCH with application/apply-patch+yaml. The body is
// a partial object (YAML or JSON) stating the fields its field manager
// wants; structured-merge-diff merges it into the live object, records
// the manager as their owner, and refuses (409) to take fields another
// manager owns with a different value unless force=true. An absent object
// is created from the body, as kube-apiserver does.

func isApplyPatch(pt string) bool {
	return types.PatchType(pt) == types.ApplyYAMLPatchType
}

// patchOptions are the query parameters only PATCH takes.
type patchOptions struct {
	force   bool
	manager string
}

// parsePatchOptions reads and validates PatchOptions as kube-apiserver's
// ValidatePatchOptions: apply needs a field manager, and only apply may
// force. Failures are 422 on PatchOptions, with upstream's wording.
func parsePatchOptions(r *http.Request, pt string) (patchOptions, error) {
	q := r.URL.Query()
	o := patchOptions{manager: q.Get("fieldManager")}
	var errs field.ErrorList
	forceSet := false
	if v, ok := q["force"]; ok && len(v) > 0 {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return o, apierrors.NewBadRequest(fmt.Sprintf("force: invalid value %q: %v", v[0], err))
		}
		o.force, forceSet = b, true
	}
	if isApplyPatch(pt) {
		if o.manager == "" {
			errs = append(errs, field.Required(field.NewPath("fieldManager"), "is required for apply patch"))
		}
	} else if forceSet {
		errs = append(errs, field.Forbidden(field.NewPath("force"), "may not be specified for non-apply patch"))
	}
	if len(errs) > 0 {
		return o, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("PatchOptions").GroupKind(), "", errs)
	}
	return o, nil
}

// serverSideApply answers an apply patch whose body has been read.
func (s *Server) serverSideApply(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo, p writeParams, opts patchOptions, f outputFormat, body []byte) {
	if !trackedSubresource(info.subresource) {
		s.writeError(w, r, notImplemented("server-side apply to the "+info.subresource+" subresource"), res.gr(), info.name)
		return
	}
	patch, warnings, err := decodeApplyPatch(body, p.fv)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	fm, err := s.fieldTracker().manager(res, info.subresource)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	if err := s.checkApplySchema(res, patch); err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	ctx, aw := withAdmissionWarnings(r.Context())
	ctx = withFieldOwner(ctx, fieldOwner{manager: opts.manager, apply: true})
	e, code, err := s.apply(ctx, res, info, p.dryRun, fm, patch, opts)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	addWarnings(w, append(warnings, aw.list()...))
	s.writeEntry(w, r, res, code, e, f)
}

// decodeApplyPatch decodes an apply body into an unstructured object.
// Unknown fields are refused later by the schema; duplicate fields are
// refused, reported or ignored according to fieldValidation.
func decodeApplyPatch(body []byte, fv fieldValidation) (*unstructured.Unstructured, []string, error) {
	if _, err := yaml.YAMLToJSON(body); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error encoding patch: %v", err))
	}
	patch := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(body, &patch.Object); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	if patch.Object == nil {
		// An empty body ("null") applies nothing; the schema check
		// refuses it for want of apiVersion and kind.
		patch.Object = map[string]any{}
	}
	var warnings []string
	if fv == validationWarn || fv == validationStrict {
		if err := yaml.UnmarshalStrict(body, &map[string]any{}); err != nil {
			if fv == validationStrict {
				return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error strict decoding patch: %v", err))
			}
			warnings = append(warnings, err.Error())
		}
	}
	return patch, warnings, nil
}

// maxApplyCreateRaces bounds how often an apply retries after the object
// it found absent was created by someone else meanwhile (or the reverse).
const maxApplyCreateRaces = 3

// apply merges the patch into the live object, or creates the object
// from it when there is none (only through the object itself, not a
// subresource, as upstream). It returns the entry and 200 or 201.
func (s *Server) apply(ctx context.Context, res *resource, info *requestInfo, dryRun bool, fm *managedfields.FieldManager, patch *unstructured.Unstructured, opts patchOptions) (*storage.Entry, int, error) {
	for attempt := 0; ; attempt++ {
		e, err := s.guaranteedUpdate(ctx, res, info.namespace, info.name, info.subresource, dryRun,
			func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
				return fm.Apply(cur, patch.DeepCopy(), opts.manager, opts.force)
			})
		if !errors.Is(err, storage.ErrNotFound) || info.subresource != "" {
			return e, http.StatusOK, err
		}
		live := res.t.New()
		live.GetObjectKind().SetGroupVersionKind(res.t.GroupVersionKind)
		obj, err := fm.Apply(live, patch.DeepCopy(), opts.manager, opts.force)
		if err != nil {
			return nil, 0, err
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, 0, apierrors.NewBadRequest(err.Error())
		}
		if m.GetName() != info.name {
			return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.name))
		}
		e, err = s.createObject(ctx, res, info.namespace, obj, dryRun)
		if errors.Is(err, storage.ErrAlreadyExists) && attempt < maxApplyCreateRaces {
			continue
		}
		return e, http.StatusCreated, err
	}
}

// checkApplySchema refuses with 400 an apply body of the served kind
// that does not fit the kind's schema (an undeclared field, a wrong
// type). The field manager reports that as a plain error, which
// kube-apiserver answers with 500 (kubernetes/kubernetes#139253, where
// 400 is the agreed fix); the message is upstream's. Bodies of another
// kind are left to the field manager, which refuses them itself.
func (s *Server) checkApplySchema(res *resource, patch *unstructured.Unstructured) error {
	gvk := patch.GroupVersionKind()
	if gvk != res.t.GroupVersionKind {
		return nil
	}
	tc, err := s.fieldTracker().typeConverter()
	if err != nil {
		return err
	}
	if _, err := tc.ObjectToTyped(patch); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("failed to create typed patch object (%s/%s; %s): %v", patch.GetNamespace(), patch.GetName(), gvk, err))
	}
	return nil
}
