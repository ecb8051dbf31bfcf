// Package controllertest is what the controllers' unit tests share, as
// net/http/httptest is for handlers: it drives a controller built over
// client-go's fake clientset the way the real cluster would, and reads
// back what the controller did.
//
// Inputs are a test's *testing.T, the fake clientset, and the
// manager.Deps or controller under test; outputs are the controller's
// requests as short strings ("create pods web-*", "update
// deployments/status web"), the events it recorded, and failures of the
// test when something it waits for does not happen.
//
//   - Start runs a controller's informers (and, if asked, the controller)
//     for the length of a test and stops them at its end.
//   - ServeCreates teaches the fake clientset what the API server does on
//     create that the fake's object tracker does not: generateName, UIDs,
//     creation times.
//   - Cache fills informer stores by hand, for tests that do not start
//     informers and decide exactly what the controller sees;
//     CacheCurrent tells when started informers have caught up with the
//     fake API.
//   - Actions and Events read the requests sent and the events recorded.
//   - Eventually and WaitFor poll for what informers deliver
//     asynchronously, without asserting how long it takes.
//
// It is the same approach as upstream Kubernetes's controller tests
// (sample-controller's fixture, pkg/controller/testutil): fake clients
// that record actions, fake recorders, and informers fed by the fake's
// watches. Being internal, only Skiff's reconcile packages may import it,
// and only from tests.
package controllertest
