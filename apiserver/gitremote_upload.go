package apiserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Capabilities this layer adds to go-git's advertisements, because it
// implements them itself:
//   - upload-pack: multi_ack_detailed (the negotiation of a stateless
//     fetch, which go-git's session does not do), side-band-64k (the
//     pack is multiplexed here, so an error can still reach the user) and
//     shallow and deepen-relative (git clone --depth, git fetch
//     --deepen; gitremote_shallow.go).
//   - receive-pack: side-band-64k (progress and the GitOps result as
//     "remote:" lines), push-options (-o skiff.wait=false), and no-thin:
//     go-git stores a pushed pack as it comes and cannot complete a thin
//     pack's deltas against objects outside it.
var (
	gitUploadExtraCaps  = []capability.Capability{capability.MultiACKDetailed, capability.Sideband64k, capability.Sideband, capability.Shallow, capability.DeepenRelative}
	gitReceiveExtraCaps = []capability.Capability{capability.Sideband64k, capability.Sideband, capability.PushOptions, "no-thin"}
)

// serveInfoRefs answers the reference advertisement of a service. A
// repository that does not exist yet advertises no references to a push
// (it is created by the push) and is 404 to a fetch.
func (g *gitRemote) serveInfoRefs(w http.ResponseWriter, r *http.Request, repo gitRepo, service string) {
	ep := repo.endpoint()
	var sto storer.Storer
	fsSto, err := openGitRepo(g.dir(repo))
	switch {
	case err == nil:
		defer fsSto.Close()
		sto = fsSto
	case errors.Is(err, fs.ErrNotExist) && service == gitReceivePack:
		sto = memory.NewStorage()
	case errors.Is(err, fs.ErrNotExist):
		gitError(w, http.StatusNotFound, fmt.Sprintf("repository %s does not exist yet: push to it first", repo))
		return
	default:
		gitError(w, http.StatusInternalServerError, fmt.Sprintf("open repository %s: %v", repo, err))
		return
	}
	srv := server.NewServer(server.MapLoader{ep.String(): sto})
	var ar *packp.AdvRefs
	var extra []capability.Capability
	if service == gitUploadPack {
		sess, err := srv.NewUploadPackSession(ep, nil)
		if err == nil {
			ar, err = sess.AdvertisedReferences()
		}
		if err != nil {
			gitError(w, http.StatusInternalServerError, fmt.Sprintf("advertise %s: %v", repo, err))
			return
		}
		extra = gitUploadExtraCaps
	} else {
		sess, err := srv.NewReceivePackSession(ep, nil)
		if err == nil {
			ar, err = sess.AdvertisedReferences()
		}
		if err != nil {
			gitError(w, http.StatusInternalServerError, fmt.Sprintf("advertise %s: %v", repo, err))
			return
		}
		extra = gitReceiveExtraCaps
	}
	for _, c := range extra {
		if err := ar.Capabilities.Add(c); err != nil {
			gitError(w, http.StatusInternalServerError, fmt.Sprintf("advertise %s: %v", repo, err))
			return
		}
	}
	ar.Prefix = [][]byte{[]byte("# service=" + service), pktline.Flush}
	h := w.Header()
	h.Set("Content-Type", "application/x-"+service+"-advertisement")
	noCache(h)
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if err := ar.Encode(w); err != nil {
		g.s.log.Warn("git: write advertisement", "repo", repo.String(), "err", err)
	}
}

// uploadRound is one stateless request of a fetch's negotiation.
type uploadRound struct {
	req   *packp.UploadPackRequest
	haves []plumbing.Hash
	// done: the client wants the pack now; otherwise it wants ACKs.
	done bool
	// wantsOnly: the request ended after the wants. git sends that first
	// when it deepens, to learn the shallow commits before negotiating.
	wantsOnly bool
}

// readUploadRequest reads wants (and capabilities), then haves up to a
// flush (another round follows) or "done".
func readUploadRequest(br *bufio.Reader) (*uploadRound, error) {
	req := packp.NewUploadPackRequest()
	if err := req.UploadRequest.Decode(br); err != nil {
		return nil, fmt.Errorf("read wants: %w", err)
	}
	round := &uploadRound{req: req}
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		round.wantsOnly = true
		return round, nil
	}
	sc := pktline.NewScanner(br)
	for sc.Scan() {
		line := strings.TrimSuffix(string(sc.Bytes()), "\n")
		switch {
		case line == "":
			return round, nil
		case line == "done":
			round.done = true
			return round, nil
		case strings.HasPrefix(line, "have "):
			h := strings.TrimPrefix(line, "have ")
			if !plumbing.IsHash(h) {
				return nil, fmt.Errorf("malformed have line %q", line)
			}
			round.haves = append(round.haves, plumbing.NewHash(h))
		default:
			return nil, fmt.Errorf("unexpected line %q in the list of haves", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read haves: %w", err)
	}
	// An upload request that ends without flush or done: git's
	// upload-pack treats it as the end of the conversation.
	return nil, errors.New("the request ended before a flush or done")
}

// serveUploadPack answers one request of a fetch. Negotiation follows
// git's upload-pack for stateless RPC: a round without "done" is answered
// with an ACK for each have we also have ("ACK <id> common" with
// multi_ack_detailed) and NAK; the round with "done" gets the final
// ACK/NAK and the pack, which go-git's session computes from the wants
// and the common haves.
func (g *gitRemote) serveUploadPack(w http.ResponseWriter, r *http.Request, repo gitRepo) {
	br, finishBody, ok := g.rpcBody(w, r, gitUploadPack)
	if !ok {
		return
	}
	defer finishBody()
	sto, err := openGitRepo(g.dir(repo))
	if errors.Is(err, fs.ErrNotExist) {
		gitError(w, http.StatusNotFound, fmt.Sprintf("repository %s does not exist yet: push to it first", repo))
		return
	} else if err != nil {
		gitError(w, http.StatusInternalServerError, fmt.Sprintf("open repository %s: %v", repo, err))
		return
	}
	defer sto.Close()
	round, err := readUploadRequest(br)
	if err != nil {
		bodyError(w, err)
		return
	}
	finishBody()
	req := round.req
	h := w.Header()
	h.Set("Content-Type", "application/x-git-upload-pack-result")
	noCache(h)
	w.WriteHeader(http.StatusOK)
	enc := pktline.NewEncoder(w)
	var plan *shallowPlan
	if needsShallowPlan(req) {
		if plan, err = planShallow(sto, req); err != nil {
			pktError(w, err.Error())
			return
		}
		// Every response of a stateless fetch opens with the shallow
		// section, the client reads it each time.
		if err := plan.encodeSection(w); err != nil {
			g.s.log.Warn("git: write shallow section", "repo", repo.String(), "err", err)
			return
		}
	}
	if round.wantsOnly {
		return
	}
	detailed := req.Capabilities.Supports(capability.MultiACKDetailed)
	var common []plumbing.Hash
	for _, hv := range round.haves {
		if sto.HasEncodedObject(hv) == nil {
			common = append(common, hv)
		}
	}
	// ACKs for the haves both sides have, as upload-pack sends them
	// while it reads the haves.
	if detailed {
		for _, c := range common {
			_ = enc.Encodef("ACK %s common\n", c)
		}
	} else if len(common) > 0 {
		_ = enc.Encodef("ACK %s\n", common[0])
	}
	if !round.done {
		if detailed || len(common) == 0 {
			_ = enc.Encodef("NAK\n")
		}
		return
	}
	switch {
	case len(common) == 0:
		_ = enc.Encodef("NAK\n")
	case detailed:
		_ = enc.Encodef("ACK %s\n", common[len(common)-1])
	}
	// The pack encoder writes in small pieces: buffered, they go out in
	// full sideband packets.
	out := bufio.NewWriterSize(w, sideband.MaxPackedSize64k-1)
	var mux *sideband.Muxer
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		mux = sideband.NewMuxer(sideband.Sideband64k, w)
		out = bufio.NewWriterSize(mux, sideband.MaxPackedSize64k-1)
	case req.Capabilities.Supports(capability.Sideband):
		mux = sideband.NewMuxer(sideband.Sideband, w)
		out = bufio.NewWriterSize(mux, sideband.MaxPackedSize-1)
	}
	err = g.sendPack(r.Context(), sto, repo, req, plan, common, out)
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		g.s.log.Warn("git: fetch failed", "repo", repo.String(), "err", err)
		if mux == nil {
			// Without a sideband there is no way to tell the client; a
			// truncated pack fails its checksum.
			return
		}
		_, _ = mux.WriteChannel(sideband.ErrorMessage, []byte(err.Error()+"\n"))
	}
	if mux != nil {
		_ = enc.Flush()
	}
}

// sendPack writes the pack of a fetch: the objects reachable from the
// wants and not from the common haves. Every want must be the tip of a
// reference (git's default: a client cannot fetch an object a ref does
// not point at, such as one from a refused push).
func (g *gitRemote) sendPack(ctx context.Context, sto storer.Storer, repo gitRepo, req *packp.UploadPackRequest, plan *shallowPlan, common []plumbing.Hash, out io.Writer) error {
	tips := map[plumbing.Hash]bool{}
	refs, err := sto.IterReferences()
	if err != nil {
		return fmt.Errorf("list references: %w", err)
	}
	_ = refs.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference {
			tips[ref.Hash()] = true
		}
		return nil
	})
	for _, want := range req.Wants {
		if !tips[want] {
			return fmt.Errorf("upload-pack: not our ref %s", want)
		}
	}
	if plan != nil {
		return sendShallowPack(ctx, sto, plan, req.Wants, common, out)
	}
	// go-git's session knows only the capabilities it advertises; the
	// ones this layer implements are handled above.
	caps := capability.NewList()
	for _, c := range []capability.Capability{capability.OFSDelta, capability.Agent} {
		if req.Capabilities.Supports(c) {
			_ = caps.Set(c, req.Capabilities.Get(c)...)
		}
	}
	upReq := packp.NewUploadPackRequest()
	upReq.Wants = req.Wants
	upReq.Haves = common
	upReq.Capabilities = caps
	ep := repo.endpoint()
	sess, err := server.NewServer(server.MapLoader{ep.String(): sto}).NewUploadPackSession(ep, nil)
	if err != nil {
		return fmt.Errorf("upload-pack: %w", err)
	}
	resp, err := sess.UploadPack(ctx, upReq)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return errors.New("upload-pack: nothing to send: the client has every object it wants")
	}
	if err != nil {
		return fmt.Errorf("upload-pack: %w", err)
	}
	defer resp.Close()
	if _, err := io.Copy(out, resp); err != nil {
		return fmt.Errorf("upload-pack: send pack: %w", err)
	}
	return nil
}
