package apiserver

import (
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestRefuseImpersonation(t *testing.T) {
	admin := User{Name: "skiff-admin", Groups: []string{"system:masters"}}
	for _, tc := range []struct {
		name      string
		header    map[string]string
		forbidden bool
		bad       bool
		want      string
	}{
		{name: "none", header: map[string]string{"Authorization": "Bearer x"}},
		{name: "empty user alone", header: map[string]string{"Impersonate-User": ""}},
		{name: "user", header: map[string]string{"Impersonate-User": "bob"}, forbidden: true,
			want: `users "bob" is forbidden: User "skiff-admin" cannot impersonate resource "users" in API group "" at the cluster scope: Skiff has no RBAC, so a request cannot run as another user; send it without impersonation (kubectl: without --as`},
		{name: "user and group", header: map[string]string{"Impersonate-User": "bob", "Impersonate-Group": "devs"}, forbidden: true, want: `users "bob" is forbidden`},
		{name: "service account", header: map[string]string{"Impersonate-User": "system:serviceaccount:team:builder"}, forbidden: true,
			want: `serviceaccounts "builder" is forbidden: User "skiff-admin" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "team"`},
		{name: "group without user", header: map[string]string{"Impersonate-Group": "devs"}, bad: true, want: "Impersonate-Group without Impersonate-User"},
		{name: "extra without user", header: map[string]string{"Impersonate-Extra-Scopes": "view"}, bad: true, want: "Impersonate-Extra-Scopes without Impersonate-User"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			err := refuseImpersonation(admin, h)
			switch {
			case !tc.forbidden && !tc.bad:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			case tc.forbidden && !apierrors.IsForbidden(err), tc.bad && !apierrors.IsBadRequest(err):
				t.Fatalf("got %v, want forbidden=%v bad request=%v", err, tc.forbidden, tc.bad)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("message %q does not contain %q", err, tc.want)
			}
		})
	}
}
