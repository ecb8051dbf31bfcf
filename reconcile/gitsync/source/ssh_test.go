package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// sshGitServer is an in-process ssh server that runs the real
// git-upload-pack for "exec" requests, accepting one client key.
type sshGitServer struct {
	addr    string
	hostKey ssh.Signer
	wg      sync.WaitGroup
}

func newSSHGitServer(t *testing.T, clientKey ssh.PublicKey) *sshGitServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown client key")
		},
	}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshGitServer{addr: ln.Addr().String(), hostKey: hostKey}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveConn(c, cfg)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *sshGitServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go s.serveSession(ch, creqs)
	}
}

func (s *sshGitServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(req.Type == "env", nil)
			continue
		}
		if len(req.Payload) < 4 {
			req.Reply(false, nil)
			return
		}
		command := string(req.Payload[4:])
		repo, ok := strings.CutPrefix(command, "git-upload-pack ")
		if !ok {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := exec.Command("git-upload-pack", strings.Trim(repo, "'"))
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, _ := cmd.StdinPipe()
		code := uint32(1)
		if err := cmd.Start(); err == nil {
			go func() { io.Copy(stdin, ch); stdin.Close() }()
			if cmd.Wait() == nil {
				code = 0
			}
		}
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, code)
		ch.SendRequest("exit-status", false, status)
		return
	}
}

func (s *sshGitServer) knownHostsLine(key ssh.PublicKey) string {
	return knownhosts.Line([]string{s.addr}, key) + "\n"
}

func newClientKey(t *testing.T) ([]byte, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), sp
}

func TestFetchSSH(t *testing.T) {
	work, c1 := newWorkRepo(t, map[string]string{"a.yaml": "ssh"})
	bare := bareCopy(t, work, t.TempDir(), "repo")
	identity, clientPub := newClientKey(t)
	srv := newSSHGitServer(t, clientPub)
	url := fmt.Sprintf("ssh://git@%s%s", srv.addr, bare)

	_, otherHost, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(otherHost)
	otherIdentity, _ := newClientKey(t)

	fetch := func(secret map[string][]byte) (*Artifact, error) {
		return Fetch(context.Background(), Request{URL: url, Secret: secret, Dir: filepath.Join(t.TempDir(), "out"), Timeout: 20 * time.Second})
	}
	t.Run("known host accepted", func(t *testing.T) {
		art, err := fetch(map[string][]byte{"identity": identity, "known_hosts": []byte(srv.knownHostsLine(srv.hostKey.PublicKey()))})
		if err != nil {
			t.Fatal(err)
		}
		if art.Revision != "master@sha1:"+c1 {
			t.Fatalf("revision %q", art.Revision)
		}
	})
	t.Run("unknown host key refused", func(t *testing.T) {
		_, err := fetch(map[string][]byte{"identity": identity, "known_hosts": []byte(srv.knownHostsLine(otherSigner.PublicKey()))})
		if !errors.Is(err, ErrHostKey) {
			t.Fatalf("err = %v, want ErrHostKey", err)
		}
		t.Logf("error as a user sees it: %v", err)
	})
	t.Run("host missing from known_hosts refused", func(t *testing.T) {
		line := knownhosts.Line([]string{"example.com"}, srv.hostKey.PublicKey()) + "\n"
		_, err := fetch(map[string][]byte{"identity": identity, "known_hosts": []byte(line)})
		if !errors.Is(err, ErrHostKey) {
			t.Fatalf("err = %v, want ErrHostKey", err)
		}
	})
	t.Run("missing known_hosts refused", func(t *testing.T) {
		_, err := fetch(map[string][]byte{"identity": identity})
		if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), `missing "known_hosts"`) {
			t.Fatalf("err = %v, want ErrInvalidRequest naming known_hosts", err)
		}
	})
	t.Run("missing identity refused", func(t *testing.T) {
		_, err := fetch(map[string][]byte{"known_hosts": []byte(srv.knownHostsLine(srv.hostKey.PublicKey()))})
		if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), `missing "identity"`) {
			t.Fatalf("err = %v, want ErrInvalidRequest naming identity", err)
		}
	})
	t.Run("wrong client key refused", func(t *testing.T) {
		_, err := fetch(map[string][]byte{"identity": otherIdentity, "known_hosts": []byte(srv.knownHostsLine(srv.hostKey.PublicKey()))})
		if err == nil || errors.Is(err, ErrHostKey) {
			t.Fatalf("err = %v, want an authentication failure", err)
		}
		t.Logf("error as a user sees it: %v", err)
	})
}
