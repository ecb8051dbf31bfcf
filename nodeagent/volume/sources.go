package volume

import (
	"errors"
	"fmt"
	"io/fs"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// atomicPayload computes the files of a configMap, secret, downwardAPI or
// projected volume, and the plugin directory they go to.
func (m *Manager) atomicPayload(pod *corev1.Pod, v *corev1.Volume) (plugin string, p payload, err error) {
	p = payload{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		data, err := m.configMapData(pod.Namespace, s.Name, isTrue(s.Optional))
		if err != nil {
			return "", nil, err
		}
		mode := modeOr(s.DefaultMode, corev1.ConfigMapVolumeSourceDefaultMode)
		err = keyFiles(p, "configmap", s.Name, data, s.Items, mode, s.DefaultUser, isTrue(s.Optional))
		return pluginConfigMap, p, err
	case v.Secret != nil:
		s := v.Secret
		data, err := m.secretData(pod.Namespace, s.SecretName, isTrue(s.Optional))
		if err != nil {
			return "", nil, err
		}
		mode := modeOr(s.DefaultMode, corev1.SecretVolumeSourceDefaultMode)
		err = keyFiles(p, "secret", s.SecretName, data, s.Items, mode, nil, isTrue(s.Optional))
		return pluginSecret, p, err
	case v.DownwardAPI != nil:
		s := v.DownwardAPI
		mode := modeOr(s.DefaultMode, corev1.DownwardAPIVolumeSourceDefaultMode)
		err := m.downwardFiles(p, pod, s.Items, mode, s.DefaultUser)
		return pluginDownwardAPI, p, err
	case v.Projected != nil:
		err := m.projectedFiles(p, pod, v.Projected)
		return pluginProjected, p, err
	}
	return "", nil, fmt.Errorf("%s is not an atomically written volume", sourceKind(&v.VolumeSource))
}

// projectedFiles merges the sources of a projected volume into p. A later
// source's file replaces an earlier one's at the same path, as on a
// kubelet (the API server refuses explicit duplicate item paths).
func (m *Manager) projectedFiles(p payload, pod *corev1.Pod, proj *corev1.ProjectedVolumeSource) error {
	mode := modeOr(proj.DefaultMode, corev1.ProjectedVolumeSourceDefaultMode)
	for i, s := range proj.Sources {
		var err error
		switch {
		case s.ConfigMap != nil:
			var data map[string][]byte
			optional := isTrue(s.ConfigMap.Optional)
			if data, err = m.configMapData(pod.Namespace, s.ConfigMap.Name, optional); err == nil {
				err = keyFiles(p, "configmap", s.ConfigMap.Name, data, s.ConfigMap.Items, mode, proj.DefaultUser, optional)
			}
		case s.Secret != nil:
			var data map[string][]byte
			optional := isTrue(s.Secret.Optional)
			if data, err = m.secretData(pod.Namespace, s.Secret.Name, optional); err == nil {
				err = keyFiles(p, "secret", s.Secret.Name, data, s.Secret.Items, mode, proj.DefaultUser, optional)
			}
		case s.DownwardAPI != nil:
			err = m.downwardFiles(p, pod, s.DownwardAPI.Items, mode, proj.DefaultUser)
		case s.ServiceAccountToken != nil:
			err = unsupported("serviceAccountToken sources of projected volumes")
		case s.ClusterTrustBundle != nil:
			err = unsupported("clusterTrustBundle sources of projected volumes")
		case s.PodCertificate != nil:
			err = unsupported("podCertificate sources of projected volumes")
		default:
			err = errors.New("names no source")
		}
		if err != nil {
			return fmt.Errorf("projected source %d: %w", i, err)
		}
	}
	return nil
}

// configMapData returns the ConfigMap's data and binaryData as one map
// (the API keeps their keys apart); nil for an optional ConfigMap that
// does not exist.
func (m *Manager) configMapData(namespace, name string, optional bool) (map[string][]byte, error) {
	cm, err := m.src.ConfigMap(namespace, name)
	if err != nil {
		return nil, missing(err, optional)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

// secretData returns the Secret's data: already the decoded bytes (the
// API's base64 is undone by the JSON decoding, and the API server has
// merged stringData into data), so the files hold them as they are.
func (m *Manager) secretData(namespace, name string, optional bool) (map[string][]byte, error) {
	s, err := m.src.Secret(namespace, name)
	if err != nil {
		return nil, missing(err, optional)
	}
	return s.Data, nil
}

// missing turns a NotFound of an optional object into no error: the
// volume is then empty (or lacks that source's files).
func missing(err error, optional bool) error {
	if optional && apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// keyFiles adds an object's keys to p as the kubelet projects them: every
// key as a file of that name when items is empty, else each listed key at
// its path. A listed key the object lacks fails the volume unless it is
// optional.
func keyFiles(p payload, kind, name string, data map[string][]byte, items []corev1.KeyToPath, defaultMode int32, defaultUser *int64, optional bool) error {
	if len(items) == 0 {
		for k, v := range data {
			p[k] = file{data: v, mode: fileMode(defaultMode), uid: uidOf(defaultUser), gid: -1}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		user := defaultUser
		if it.User != nil {
			user = it.User
		}
		p[it.Path] = file{data: v, mode: fileMode(modeOr(it.Mode, defaultMode)), uid: uidOf(user), gid: -1}
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func modeOr(mode *int32, def int32) int32 {
	if mode != nil {
		return *mode
	}
	return def
}

// fileMode keeps the permission bits of an API mode; the API allows no
// others on files.
func fileMode(mode int32) fs.FileMode { return fs.FileMode(mode) & fs.ModePerm }

func uidOf(user *int64) int {
	if user == nil {
		return -1
	}
	return int(*user)
}
