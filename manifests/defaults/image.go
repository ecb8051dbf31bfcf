package defaults

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PullPolicyForImage is the imagePullPolicy Kubernetes picks when a
// container leaves it out: Always for an image whose tag is "latest" or that
// names neither tag nor digest, IfNotPresent otherwise (including images
// that do not parse as a reference, as kubelet's parser reports no tag for
// them).
func PullPolicyForImage(image string) corev1.PullPolicy {
	if tag, ok := imageTag(image); ok && tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// The grammar of github.com/distribution/reference, which kubelet's
// ParseImageName uses through ParseNormalizedNamed.
var (
	referenceRegexp = func() *regexp.Regexp {
		const (
			alnum           = `[a-z0-9]+`
			separator       = `(?:[._]|__|[-]+)`
			pathComponent   = alnum + `(?:` + separator + alnum + `)*`
			domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
			domainName      = domainComponent + `(?:\.` + domainComponent + `)*`
			ipv6            = `\[(?:[a-fA-F0-9:]+)\]`
			domain          = `(?:` + domainName + `|` + ipv6 + `)(?::[0-9]+)?`
			name            = `(?:` + domain + `/)?` + pathComponent + `(?:/` + pathComponent + `)*`
			tag             = `[\w][\w.-]{0,127}`
			digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`
		)
		return regexp.MustCompile(`^(` + name + `)(?::(` + tag + `))?(?:@(` + digest + `))?$`)
	}()
	identifierRegexp = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// imageTag returns the tag kubelet sees in image: the explicit tag, "latest"
// when the reference has neither tag nor digest, "" for a digest-only
// reference. ok is false when image is not a valid reference.
func imageTag(image string) (tag string, ok bool) {
	if identifierRegexp.MatchString(image) {
		return "", false
	}
	domain, remainder := splitDockerDomain(image)
	remote := remainder
	if i := strings.IndexRune(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return "", false
	}
	m := referenceRegexp.FindStringSubmatch(domain + "/" + remainder)
	if m == nil || len(m[1]) > 255 {
		return "", false
	}
	tag, digest := m[2], m[3]
	if tag == "" && digest == "" {
		tag = "latest"
	}
	return tag, true
}

func splitDockerDomain(name string) (domain, remainder string) {
	i := strings.IndexRune(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost" && strings.ToLower(name[:i]) == name[:i]) {
		domain, remainder = "docker.io", name
	} else {
		domain, remainder = name[:i], name[i+1:]
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.ContainsRune(remainder, '/') {
		remainder = "library/" + remainder
	}
	return domain, remainder
}
