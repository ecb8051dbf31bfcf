package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

// freshness maps a resourceVersion parameter to how current a cache read
// must be: "" = every acknowledged write, "0" = anything, N = at least N.
func freshness(rv string) (storage.Freshness, error) {
	switch rv {
	case "":
		return storage.Freshness{Latest: true}, nil
	case "0":
		return storage.Freshness{}, nil
	}
	n, err := parseRV(rv)
	if err != nil {
		return storage.Freshness{}, err
	}
	return storage.Freshness{MinRev: n}, nil
}

func parseRV(rv string) (int64, error) {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
	}
	return n, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	f, err := negotiate(r, false)
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	e, err := s.getEntry(r, res, info.namespace, info.name, r.URL.Query().Get("resourceVersion"))
	if err != nil {
		s.writeError(w, r, err, res.gr(), info.name)
		return
	}
	if info.subresource == "scale" {
		s.getScale(w, r, res, e)
		return
	}
	s.writeEntry(w, r, res, http.StatusOK, e, f)
}

// getEntry reads one object: from etcd when it must be current, from the
// cache when the client accepts an older (resourceVersion=0) or
// not-older-than-N state.
func (s *Server) getEntry(r *http.Request, res *resource, namespace, name, rv string) (*storage.Entry, error) {
	key := res.key(namespace, name)
	if rv == "" {
		raw, rev, err := s.store.Get(r.Context(), key)
		if err != nil {
			return nil, err
		}
		return res.cache.Entry(key, rev, raw), nil
	}
	fr, err := freshness(rv)
	if err != nil {
		return nil, err
	}
	e, _, err := res.cache.Get(r.Context(), key, fr)
	return e, err
}

// listOptions are the parsed query parameters of a list or watch.
type listOptions struct {
	pred              storage.Predicate
	rv                string
	rvMatch           metav1.ResourceVersionMatch
	limit             int64
	cont              string
	sendInitialEvents *bool
	bookmarks         bool
	timeout           time.Duration
}

func (s *Server) parseListOptions(r *http.Request, res *resource, info *requestInfo) (*listOptions, error) {
	q := r.URL.Query()
	o := &listOptions{
		rv:        q.Get("resourceVersion"),
		rvMatch:   metav1.ResourceVersionMatch(q.Get("resourceVersionMatch")),
		cont:      q.Get("continue"),
		bookmarks: isTrue(q.Get("allowWatchBookmarks")),
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := isTrue(v)
		o.sendInitialEvents = &b
	}
	o.pred.Namespace = info.namespace
	sel, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid label selector %q: %v", q.Get("labelSelector"), err))
	}
	o.pred.Label = sel
	if o.pred.Field, err = res.parseFieldSelector(q.Get("fieldSelector")); err != nil {
		return nil, err
	}
	if v := q.Get("limit"); v != "" {
		if o.limit, err = strconv.ParseInt(v, 10, 64); err != nil || o.limit < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", v))
		}
	}
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		o.timeout = time.Duration(n) * time.Second
	}
	var errs field.ErrorList
	switch o.rvMatch {
	case "":
	case metav1.ResourceVersionMatchNotOlderThan, metav1.ResourceVersionMatchExact:
		// A watch-list (sendInitialEvents) may leave resourceVersion unset:
		// "the most recent state".
		if o.rv == "" && o.sendInitialEvents == nil {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden unless resourceVersion is provided"))
		}
		if o.rvMatch == metav1.ResourceVersionMatchExact && o.rv == "0" {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
		}
	default:
		errs = append(errs, field.NotSupported(field.NewPath("resourceVersionMatch"), o.rvMatch, []string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan)}))
	}
	if o.cont != "" && o.rv != "" && o.rv != "0" {
		errs = append(errs, field.Forbidden(field.NewPath("resourceVersion"), "specifying resource version is not allowed when using continue"))
	}
	if o.sendInitialEvents != nil {
		if info.verb != "watch" {
			errs = append(errs, field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for list"))
		} else {
			if o.rvMatch != metav1.ResourceVersionMatchNotOlderThan {
				errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
			}
			if *o.sendInitialEvents && !o.bookmarks {
				errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"), "allowWatchBookmarks must be true if sendInitialEvents = true"))
			}
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	return o, nil
}

// continueToken is kube-apiserver's continue format: the revision of the
// first page and the key to resume from, relative to the list's prefix.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(prefix, next string, rev int64) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rev, StartKey: strings.TrimPrefix(next, prefix)})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(prefix, tok string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", 0, apierrors.NewBadRequest("continue key is not valid: " + err.Error())
	}
	var c continueToken
	if err := json.Unmarshal(b, &c); err != nil || c.APIVersion != "meta.k8s.io/v1" {
		return "", 0, apierrors.NewBadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if c.ResourceVersion <= 0 || strings.HasPrefix(c.StartKey, "/") || strings.Contains(c.StartKey, "..") {
		return "", 0, apierrors.NewBadRequest("continue key is not valid")
	}
	return prefix + c.StartKey, c.ResourceVersion, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	f, err := negotiate(r, true)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	o, err := s.parseListOptions(r, res, info)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	entries, lm, err := s.listEntries(r, res, o)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	s.writeList(w, r, res, entries, lm, f)
}

// listEntries serves a list. Paginated lists (a limit, or a continue token)
// read etcd at one revision so every page is from the same snapshot; the
// rest come from the watch cache, after it has caught up as far as the
// resourceVersion semantics require.
func (s *Server) listEntries(r *http.Request, res *resource, o *listOptions) ([]*storage.Entry, metav1.ListMeta, error) {
	ctx := r.Context()
	prefix := res.cache.Prefix()
	if o.pred.Namespace != "" {
		prefix += o.pred.Namespace + "/"
	}
	paged := o.cont != "" || (o.limit > 0 && o.rv != "0")
	exact := o.rvMatch == metav1.ResourceVersionMatchExact
	if !paged && !exact {
		fr, err := freshness(o.rv)
		if err != nil {
			return nil, metav1.ListMeta{}, err
		}
		entries, rev, err := res.cache.List(ctx, o.pred, fr)
		if err != nil {
			return nil, metav1.ListMeta{}, err
		}
		return entries, metav1.ListMeta{ResourceVersion: revString(rev)}, nil
	}
	start, rev := "", int64(0)
	switch {
	case o.cont != "":
		var err error
		if start, rev, err = decodeContinue(prefix, o.cont); err != nil {
			return nil, metav1.ListMeta{}, err
		}
	case exact:
		n, err := parseRV(o.rv)
		if err != nil {
			return nil, metav1.ListMeta{}, err
		}
		rev = n
	case o.rv != "" && o.rv != "0":
		// Not older than N: the current state qualifies once N is reached.
		n, err := parseRV(o.rv)
		if err != nil {
			return nil, metav1.ListMeta{}, err
		}
		if cur, err := s.store.CurrentRevision(ctx); err != nil {
			return nil, metav1.ListMeta{}, err
		} else if n > cur {
			if err := s.store.WaitForRevision(ctx, n, 3*time.Second); err != nil {
				return nil, metav1.ListMeta{}, err
			}
		}
	}
	page, err := s.store.ListPage(ctx, prefix, start, rev, o.limit, o.pred)
	if err != nil {
		if o.cont != "" && apierrors.IsResourceExpired(toStatusError(err, res.gr(), "")) {
			return nil, metav1.ListMeta{}, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
		}
		return nil, metav1.ListMeta{}, err
	}
	lm := metav1.ListMeta{ResourceVersion: revString(page.Rev)}
	if page.Next != "" {
		lm.Continue = encodeContinue(prefix, page.Next, page.Rev)
		if o.pred.Label.Empty() && o.pred.Field.Empty() {
			n := page.Remaining
			lm.RemainingItemCount = &n
		}
	}
	return page.Entries, lm, nil
}

// watchTimeout is how long a watch without timeoutSeconds stays open: a
// random 30–60 minutes, as kube-apiserver spreads reconnections.
func watchTimeout(o *listOptions) time.Duration {
	if o.timeout > 0 {
		return o.timeout
	}
	return 30*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
}

func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) {
	// A watch event carries one object, so it is negotiated as one:
	// client-go's metadata informers ask for as=PartialObjectMetadata.
	f, err := negotiateJSON(r, false)
	if err == nil && f.mediaType != mediaJSON {
		err = apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "GET", res.gr(), "", "watch streams are served as JSON only", 0, false)
	}
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	o, err := s.parseListOptions(r, res, info)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	wo := storage.WatchOptions{Predicate: o.pred, Bookmarks: o.bookmarks, BookmarkInterval: s.cfg.BookmarkInterval}
	switch {
	case o.sendInitialEvents != nil && *o.sendInitialEvents:
		fr, err := freshness(o.rv)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		wo.InitialEvents, wo.Freshness, wo.InitialEventsEnd = true, fr, true
	case o.sendInitialEvents != nil:
		// Explicitly no initial state: start after the given (or the
		// current) revision.
		if o.rv == "" || o.rv == "0" {
			rev, err := s.store.CurrentRevision(r.Context())
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			wo.Rev = rev
		} else if wo.Rev, err = parseRV(o.rv); err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
	case o.rv == "" || o.rv == "0":
		// "Get state and start at most recent" (""), "start at any" ("0"):
		// both begin with ADDED events for the current objects.
		fr, _ := freshness(o.rv)
		wo.InitialEvents, wo.Freshness = true, fr
	default:
		if wo.Rev, err = parseRV(o.rv); err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), watchTimeout(o))
	defer cancel()
	watcher, err := res.cache.Watch(ctx, wo)
	if err != nil {
		s.writeError(w, r, err, res.gr(), "")
		return
	}
	defer watcher.Stop()
	s.metrics.watchers.WithLabelValues(res.t.Resource).Inc()
	defer s.metrics.watchers.WithLabelValues(res.t.Resource).Dec()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", f.contentType())
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	first := true
	for {
		select {
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			line, err := s.encodeWatchEvent(r, res, ev, f, first)
			if err != nil {
				s.log.Warn("encode watch event", "resource", res.t.Resource, "err", err)
				return
			}
			if ev.Type != watch.Bookmark {
				first = false
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			// Send what is queued together: flush when nothing more is ready.
			if len(watcher.ResultChan()) == 0 {
				if err := rc.Flush(); err != nil {
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

func (s *Server) encodeWatchEvent(r *http.Request, res *resource, ev storage.Event, f outputFormat, first bool) ([]byte, error) {
	var obj []byte
	var err error
	switch ev.Type {
	case watch.Error:
		st := toStatusError(ev.Err, res.gr(), "").ErrStatus
		st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
		obj, err = json.Marshal(st)
	case watch.Bookmark:
		obj, err = bookmarkJSON(res, ev, f)
	default:
		switch f.as {
		case asTable:
			t, terr := s.table(r, res, []*storage.Entry{ev.Object}, metav1.ListMeta{ResourceVersion: revString(ev.Object.Rev)}, f)
			if terr != nil {
				return nil, terr
			}
			if !first {
				// Column definitions go with the first event only.
				t.ColumnDefinitions = nil
			}
			obj, err = json.Marshal(t)
		case asMetadata:
			o, xerr := res.external(ev.Object)
			if xerr != nil {
				return nil, xerr
			}
			pm, perr := partialMetadata(o, f.asVersion)
			if perr != nil {
				return nil, perr
			}
			obj, err = json.Marshal(pm)
		default:
			obj, err = res.objectJSON(ev.Object)
		}
	}
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(obj)+32)
	line = append(line, `{"type":"`...)
	line = append(line, ev.Type...)
	line = append(line, `","object":`...)
	line = append(line, obj...)
	line = append(line, "}\n"...)
	return line, nil
}

// bookmarkJSON is the object of a BOOKMARK event: only the type and the
// resourceVersion (and the initial-events-end annotation, KEP-3157).
func bookmarkJSON(res *resource, ev storage.Event, f outputFormat) ([]byte, error) {
	md := metav1.ObjectMeta{ResourceVersion: revString(ev.Object.Rev)}
	if ev.InitialEventsEnd {
		md.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	switch f.as {
	case asTable:
		return json.Marshal(&metav1.Table{
			TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + f.asVersion},
			ListMeta: metav1.ListMeta{ResourceVersion: md.ResourceVersion},
		})
	case asMetadata:
		return json.Marshal(&metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/" + f.asVersion},
			ObjectMeta: md,
		})
	}
	gvk := res.t.GroupVersionKind
	return json.Marshal(struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
	}{gvk.Kind, gvk.GroupVersion().String(), md})
}
