// Package render turns a fetched source tree into the Kubernetes objects a
// Flux Kustomization would apply, and holds the ordering and inventory
// rules the git-sync controller applies and prunes them with.
//
// # Render
//
// Render(ctx, Options) builds Options.Path of the directory Options.Root
// with kustomize (sigs.k8s.io/kustomize/api, krusty) the way Flux's
// kustomize-controller builds a Kustomization:
//
//   - When Path has no kustomization.yaml, kustomization.yml or
//     Kustomization, one is generated as Flux generates it: every .yaml and
//     .yml file under Path, recursively and in file-name order, each of which
//     must decode as Kubernetes objects (apiVersion, kind and metadata.name;
//     a YAML file that is not a manifest is an error, as in Flux); a
//     subdirectory with its own kustomization file is listed as one
//     directory resource and not entered. Flux skips .json files here, and
//     so does Skiff. A folder with no manifests at all is an error, never an
//     empty revision that would prune everything (kustomize refuses the empty
//     generated kustomization in Flux too, unless spec fields fill it).
//   - The spec is written into that kustomization as Flux writes it:
//     targetNamespace, namePrefix and nameSuffix replace the file's
//     namespace/namePrefix/nameSuffix; patches and components are appended;
//     an image replaces the file's images entry of the same name or is
//     appended. kustomize's namespace transformer leaves cluster-scoped
//     kinds alone. commonMetadata is not a kustomize field: as in Flux, its
//     labels and annotations are merged into each built object's metadata
//     afterwards (selectors and pod templates are untouched).
//   - The tree is copied into kustomize's in-memory filesystem first, so
//     the build reads nothing outside Root and writes nothing into it. The
//     names source-controller leaves out of every artifact (.git, .github,
//     .circleci, CI and tool configs) are left out. A symlink that resolves
//     outside Root, a Path or reference that is absolute or climbs out of
//     Root, are refused with ErrOutsideRoot. Loads are not restricted to each
//     kustomization's own directory (kustomize's LoadRestrictionsNone, as in
//     Flux): ../base and ../patches/x.yaml work as long as they stay in Root.
//   - Remote bases (github.com/org/repo, git@…, ?ref=) and http(s) files are
//     refused with ErrRemote before kustomize could clone or fetch them (Flux
//     allows them unless --no-remote-bases; Skiff renders offline). Helm chart
//     inflation and non-builtin plugins (exec, Go, KRM functions) are refused
//     with ErrUnsupported; builtin generators and transformers work.
//   - Every resource file is decoded with yaml.v3 before kustomize sees it,
//     so a syntax error reads "deploy/web.yaml:12: invalid manifest: …"
//     (*FileError, ErrInvalidManifest). Each object is tagged with its file
//     and line, carried through the build and returned in Result.Sources
//     (the tag is removed from the objects).
//
// Objects come back in kustomize's output order (the order of the
// kustomization files, not re-sorted), which is the same for the same input.
//
// # Apply order
//
// SortForApply and Stages give the order of Flux's ssa.ApplyAllStaged:
// stage one holds CustomResourceDefinitions, Namespaces and ClusterRoles and
// is applied and waited for first; stage two holds every kind ending in
// "Class" (StorageClass, IngressClass, …) and is applied and waited for
// next; stage three is everything else. Within a stage objects follow
// Flux's kind order (CRD, Namespace, classes, ResourceQuota, ServiceAccount,
// Role, ClusterRole, bindings, ConfigMap, Secret, Service, LimitRange,
// Deployment, StatefulSet, CronJob, PodDisruptionBudget, then unlisted kinds
// by group and kind, then the webhook configurations), ties broken by
// namespace and name. Flux's optional custom stage (a controller flag) is
// not modelled.
//
// # Inventory
//
// Inventory records what was applied in Flux's status.inventory format:
// entries {"id": "<namespace>_<name>_<group>_<kind>", "v": "<version>"} in
// apply order. Diff(old, new) lists what left the revision, in the order
// Flux's DeleteAll prunes (reverse kind order).
//
// The package does no network I/O and talks to no API server; it reads
// Root and nothing else. Builds are serialised (kustomize keeps global
// OpenAPI state), so concurrent Render calls are safe but do not overlap.
package render
