package e2e

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The Kubernetes base in deploy/ is rendered as `kubectl apply -k` renders
// it, and every object is decoded strictly into its Kubernetes API type, so
// a misspelt field or a wrong type fails here rather than at apply time.
// What the schema cannot know is checked by hand against the code it
// deploys: every binary, its real flags, its ports, its probes, its grace
// period, the Dockerfile that builds it. No cluster is needed; the binaries
// are the ones TestMain built.

const (
	deployDir   = "../deploy"
	deployBase  = deployDir + "/kubernetes/base"
	namespace   = "tandem"
	placeholder = "REPLACE_ME"
	// binPath is where deploy/Dockerfile puts the binaries.
	binPath = "/usr/local/bin/"
)

// deployed is what runs in production: each binary's Deployment, and the
// container port it listens on.
var deployed = []struct {
	name string
	port int
	grpc bool
	pkg  string // the package deploy/Dockerfile builds
}{
	{"identity", 9101, true, "./services/identity/cmd/identity"},
	{"outreach", 9102, true, "./services/outreach/cmd/outreach"},
	{"atsbridge", 9103, true, "./services/atsbridge/cmd/atsbridge"},
	{"mailbox", 9104, true, "./services/mailbox/cmd/mailbox"},
	{"gateway", 8080, false, "./gateway/cmd/gateway"},
}

// requiredSecrets are the keys the Secret template must hold.
var requiredSecrets = []string{"TANDEM_DATABASE_URL", "TANDEM_REDIS_URL", "TANDEM_SERVICE_TOKEN", "TANDEM_KEY_RING", "TANDEM_MICROSOFT_CLIENT_SECRET"}

func TestDeploy_KubernetesBase(t *testing.T) {
	m := render(t, filesys.MakeFsOnDisk(), deployBase)

	t.Run("files", func(t *testing.T) { checkEveryFileListed(t, m) })

	t.Run("namespace", func(t *testing.T) {
		if _, ok := find[corev1.Namespace](m, namespace); !ok {
			t.Errorf("no Namespace %s", namespace)
		}
		for k, o := range m.objects {
			if ns := o.(metav1.Object).GetNamespace(); k.kind != "Namespace" && ns != namespace {
				t.Errorf("%s %s is in namespace %q, want %s", k.kind, k.name, ns, namespace)
			}
		}
	})

	for _, d := range deployed {
		t.Run(d.name, func(t *testing.T) { checkDeployment(t, m, d.name, d.port, d.grpc) })
	}

	t.Run("gateway finds the services", func(t *testing.T) {
		gw := m.container(t, "gateway")
		for _, d := range deployed {
			if !d.grpc {
				continue
			}
			env := "TANDEM_" + strings.ToUpper(d.name) + "_ADDR"
			addr, ok := m.env(t, gw, env)
			if !ok {
				t.Errorf("gateway: %s not set", env)
				continue
			}
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Errorf("gateway: %s=%q: %v", env, addr, err)
				continue
			}
			if host != d.name && !strings.HasPrefix(host, d.name+".") {
				t.Errorf("gateway: %s=%q does not name the Service %s", env, addr, d.name)
			}
			if p, err := strconv.Atoi(port); err != nil || !m.serviceReaches(d.name, p, d.port) {
				t.Errorf("gateway: %s=%q: Service %s has no port %s reaching container port %d (err %v)", env, addr, d.name, port, d.port, err)
			}
		}
	})

	// Every ConfigMap and Secret key a container refers to exists, and every
	// key is read by some container.
	t.Run("config and secret references", func(t *testing.T) {
		used := map[string]bool{}
		for _, pod := range m.pods() {
			for _, v := range pod.Spec.Volumes {
				if v.ConfigMap != nil {
					used["ConfigMap/"+v.ConfigMap.Name+"/*"] = true
				}
			}
			for _, c := range pod.Spec.Containers {
				for _, from := range c.EnvFrom {
					if from.ConfigMapRef != nil {
						used["ConfigMap/"+from.ConfigMapRef.Name+"/*"] = true
					}
					if from.SecretRef != nil {
						used["Secret/"+from.SecretRef.Name+"/*"] = true
					}
				}
				for _, e := range c.Env {
					m.env(t, c, e.Name) // fails on a missing key
					if e.ValueFrom == nil {
						continue
					}
					if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
						used["ConfigMap/"+r.Name+"/"+r.Key] = true
					}
					if r := e.ValueFrom.SecretKeyRef; r != nil {
						used["Secret/"+r.Name+"/"+r.Key] = true
					}
				}
			}
		}
		for k := range m.objects {
			if (k.kind != "ConfigMap" && k.kind != "Secret") || used[k.kind+"/"+k.name+"/*"] {
				continue // used whole: mounted as files, or envFrom
			}
			for name := range m.data(k.kind, k.name) {
				if !used[k.kind+"/"+k.name+"/"+name] {
					t.Errorf("%s %s: key %s is read by no container", k.kind, k.name, name)
				}
			}
		}
	})

	t.Run("secret template", func(t *testing.T) {
		found := false
		for k, o := range m.objects {
			s, ok := o.(*corev1.Secret)
			if !ok {
				continue
			}
			found = true
			if len(s.Data) > 0 {
				t.Errorf("Secret %s: has data; the template holds only stringData placeholders", k.name)
			}
			for name, v := range s.StringData {
				if v != placeholder {
					t.Errorf("Secret %s: %s is not the placeholder %s; never commit a real secret", k.name, name, placeholder)
				}
			}
			if k.name == "tandem-secrets" {
				for _, name := range requiredSecrets {
					if _, ok := s.StringData[name]; !ok {
						t.Errorf("Secret %s: no %s", k.name, name)
					}
				}
			}
		}
		if !found {
			t.Error("no Secret template")
		}
	})

	t.Run("redis", func(t *testing.T) { checkRedis(t, m) })

	t.Run("dockerfile", func(t *testing.T) { checkDockerfile(t) })
}

// The decoding is strict: a field Kubernetes does not have, a value of the
// wrong type or a kind it does not know fails the render.
func TestDeploy_RenderIsStrict(t *testing.T) {
	render := func(svc string) (map[objKey]runtime.Object, error) {
		fsys := filesys.MakeFsInMemory()
		for file, text := range map[string]string{
			"/k/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [svc.yaml]\n",
			"/k/svc.yaml":           "apiVersion: v1\nmetadata: {name: a}\n" + svc,
		} {
			if err := fsys.WriteFile(file, []byte(text)); err != nil {
				t.Fatal(err)
			}
		}
		return renderObjects(fsys, "/k")
	}
	for svc, want := range map[string]string{
		"kind: Service\nspec: {ports: [{port: 80, targetPorts: http}]}\n": `unknown field "targetPorts"`,
		"kind: Service\nspec: {ports: [{port: eighty}]}\n":                "cannot unmarshal string",
		"kind: Servce\n": `no kind "Servce"`,
	} {
		if _, err := render(svc); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("render of\n%s= %v, want an error saying %s", svc, err, want)
		}
	}
	// The same object, well formed, renders: the cases above fail for
	// their fault, not the harness's.
	objs, err := render("kind: Service\nspec: {ports: [{port: 80, targetPort: http}]}\n")
	if err != nil {
		t.Fatal(err)
	}
	if svc, ok := objs[key("Service", "a")].(*corev1.Service); !ok || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
		t.Fatalf("a good Service decoded as %#v", objs[key("Service", "a")])
	}
}

func checkDeployment(t *testing.T, m *manifests, name string, port int, grpc bool) {
	d, ok := find[appsv1.Deployment](m, name)
	if !ok {
		t.Fatalf("no Deployment %s", name)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(pod.Containers))
	}
	c := pod.Containers[0]

	if want := binPath + name; len(c.Command) == 0 || c.Command[0] != want {
		t.Errorf("command is %q, want %s (where deploy/Dockerfile puts it)", c.Command, want)
	}
	if !slices.ContainsFunc(m.kustomization.Images, func(i types.Image) bool { return c.Image == rendered(i) }) {
		t.Errorf("image %q is not set by kustomization.yaml's images", c.Image)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 || !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v does not match the pod's labels %v", d.Spec.Selector, d.Spec.Template.Labels)
	}

	// Ports: the container's, its probes', its listen address, its Service.
	portName := "http"
	addrEnv := "TANDEM_HTTP_ADDR"
	if grpc {
		portName, addrEnv = "grpc", "TANDEM_GRPC_ADDR"
	}
	if got := containerPort(c, portName); got != port {
		t.Errorf("container port %q is %d, want %d", portName, got, port)
	}
	if addr, ok := m.env(t, c, addrEnv); !ok {
		t.Errorf("%s not set (the binary's default listens on 127.0.0.1 only)", addrEnv)
	} else if host, p, err := net.SplitHostPort(addr); err != nil || p != strconv.Itoa(port) || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("%s=%q, want \":%d\"", addrEnv, addr, port)
	}
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{
		// The gateway's own health for both: /readyz follows every service,
		// and as a readiness probe one service's outage would take every
		// gateway out of its Service.
		{"readiness", c.ReadinessProbe, "/healthz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	} {
		switch {
		case p.probe == nil:
			t.Errorf("no %s probe", p.what)
		case grpc && p.probe.GRPC == nil:
			t.Errorf("%s probe is not a gRPC health probe", p.what)
		case grpc && int(p.probe.GRPC.Port) != port:
			t.Errorf("%s probe checks port %d, the container listens on %d", p.what, p.probe.GRPC.Port, port)
		case grpc && p.what == "liveness" && ptr.Deref(p.probe.GRPC.Service, "") != "liveness":
			// The overall health follows Postgres and Redis; liveness on it
			// would restart every pod during a store outage.
			t.Errorf("liveness probe asks for health service %q, want \"liveness\"", ptr.Deref(p.probe.GRPC.Service, ""))
		case grpc && p.what == "readiness" && ptr.Deref(p.probe.GRPC.Service, "") != "":
			t.Errorf("readiness probe asks for health service %q, want the overall status", ptr.Deref(p.probe.GRPC.Service, ""))
		case !grpc && p.probe.HTTPGet == nil:
			t.Errorf("%s probe is not an HTTP probe", p.what)
		case !grpc && p.probe.HTTPGet.Path != p.path:
			t.Errorf("%s probe gets %q, want %s", p.what, p.probe.HTTPGet.Path, p.path)
		case !grpc && resolvePort(c, p.probe.HTTPGet.Port) != port:
			t.Errorf("%s probe checks port %q, the container listens on %d", p.what, p.probe.HTTPGet.Port.String(), port)
		}
	}
	if !m.serviceReaches(name, port, port) {
		t.Errorf("no Service %s with port %d reaching the container port", name, port)
	}

	// Resources and privileges.
	for _, r := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
	}{{"requests", c.Resources.Requests, corev1.ResourceCPU}, {"requests", c.Resources.Requests, corev1.ResourceMemory}, {"limits", c.Resources.Limits, corev1.ResourceMemory}} {
		if q, ok := r.list[r.name]; !ok || q.IsZero() {
			t.Errorf("no resources.%s.%s", r.what, r.name)
		}
	}
	checkNonRoot(t, "Deployment "+name, pod, c)
	sc := cmp.Or(c.SecurityContext, &corev1.SecurityContext{})
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}

	// Graceful stop: the pod leaves the endpoints before the server stops
	// (the binary's drain delay, or a preStop sleep), and Kubernetes waits
	// for the whole stop before killing it.
	var drain time.Duration
	if v, ok := m.env(t, c, "TANDEM_DRAIN_DELAY"); ok {
		drain = parseDuration(t, "TANDEM_DRAIN_DELAY", v)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		drain += time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	if drain <= 0 {
		t.Error("no drain: set TANDEM_DRAIN_DELAY (or a preStop sleep) so endpoints are removed before the server stops")
	}
	shutdown := 10 * time.Second // the binaries' default
	if v, ok := m.env(t, c, "TANDEM_SHUTDOWN_TIMEOUT"); ok {
		shutdown = parseDuration(t, "TANDEM_SHUTDOWN_TIMEOUT", v)
	}
	grace := 30 * time.Second // Kubernetes' default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	if grace <= drain+shutdown {
		t.Errorf("terminationGracePeriodSeconds (%s) is not longer than drain (%s) + shutdown timeout (%s)", grace, drain, shutdown)
	}

	// Every TANDEM_* variable is a flag of this binary.
	if flags := binaryEnvNames(t, name); flags != nil {
		for _, e := range m.envNames(c) {
			if strings.HasPrefix(e, "TANDEM_") && !flags[e] {
				t.Errorf("%s is not a flag of %s (see %s -h)", e, name, name)
			}
		}
	}

	// Scaling and disruptions.
	if d.Spec.Replicas != nil {
		t.Errorf("spec.replicas is set; the HorizontalPodAutoscaler owns the count and apply would reset it")
	}
	if hpa, ok := find[autoscalingv2.HorizontalPodAutoscaler](m, name); !ok {
		t.Errorf("no HorizontalPodAutoscaler %s", name)
	} else {
		s := hpa.Spec
		if s.ScaleTargetRef.Kind != "Deployment" || s.ScaleTargetRef.Name != name {
			t.Errorf("HorizontalPodAutoscaler %s scales %s %s", name, s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name)
		}
		if s.MinReplicas == nil || *s.MinReplicas < 2 || s.MaxReplicas < *s.MinReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: want at least 2 replicas, and max >= min", name)
		}
		if !slices.ContainsFunc(s.Metrics, func(mt autoscalingv2.MetricSpec) bool {
			return mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU
		}) {
			t.Errorf("HorizontalPodAutoscaler %s does not scale on CPU", name)
		}
	}
	if pdb, ok := find[policyv1.PodDisruptionBudget](m, name); !ok {
		t.Errorf("no PodDisruptionBudget %s", name)
	} else if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 || !subset(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget %s does not select the Deployment's pods", name)
	}
}

func checkRedis(t *testing.T, m *manifests) {
	s, ok := find[appsv1.StatefulSet](m, "redis")
	if !ok {
		t.Fatal("no StatefulSet redis")
	}
	if s.Spec.Replicas == nil || *s.Spec.Replicas != 1 {
		t.Error("StatefulSet redis: want exactly 1 replica")
	}
	if len(s.Spec.VolumeClaimTemplates) == 0 {
		t.Fatal("StatefulSet redis: no volumeClaimTemplates; the AOF would die with the pod")
	}
	pod := s.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("StatefulSet redis: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("StatefulSet redis: readiness and liveness probes wanted")
	}
	checkNonRoot(t, "StatefulSet redis", pod, c)
	claims := map[string]bool{}
	for _, v := range s.Spec.VolumeClaimTemplates {
		claims[v.Name] = true
	}
	configs := map[string]string{} // volume name -> ConfigMap
	for _, v := range pod.Volumes {
		if v.ConfigMap != nil {
			configs[v.Name] = v.ConfigMap.Name
		}
	}
	// The settings redis-server runs with: its arguments, and the config
	// files it is told to load from a mounted ConfigMap.
	settings := strings.Join(c.Args, " ") + "\n"
	persistent, loaded := false, false
	for _, vm := range c.VolumeMounts {
		if claims[vm.Name] {
			persistent = true
		}
		cm, ok := configs[vm.Name]
		if !ok {
			continue
		}
		for file, text := range m.data("ConfigMap", cm) {
			if slices.Contains(slices.Concat(c.Command, c.Args), filepath.Join(vm.MountPath, file)) {
				loaded = true
				settings += text + "\n"
			}
		}
	}
	if !persistent {
		t.Error("StatefulSet redis: the volume claim is not mounted")
	}
	if !loaded {
		t.Error("StatefulSet redis: redis-server is not given a config file from a mounted ConfigMap")
	}
	for _, want := range []string{"appendonly yes", "appendfsync everysec"} {
		if !hasSetting(settings, want) {
			t.Errorf("Redis does not run with %q", want)
		}
	}
	if !m.serviceReaches("redis", 6379, containerPort(c, "redis")) {
		t.Error("no Service redis reaching Redis's port 6379")
	}
}

func checkNonRoot(t *testing.T, what string, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	if (c.SecurityContext == nil || !isTrue(c.SecurityContext.RunAsNonRoot)) && (pod.SecurityContext == nil || !isTrue(pod.SecurityContext.RunAsNonRoot)) {
		t.Errorf("%s: runAsNonRoot is not set", what)
	}
}

// checkEveryFileListed fails for a file in the base that kustomization.yaml
// does not list: it would never be deployed.
func checkEveryFileListed(t *testing.T, m *manifests) {
	listed := map[string]bool{}
	for _, r := range m.kustomization.Resources {
		listed[filepath.ToSlash(filepath.Clean(r))] = true
	}
	err := filepath.WalkDir(deployBase, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(deployBase, path)
		if err != nil {
			return err
		}
		if rel = filepath.ToSlash(rel); rel != "kustomization.yaml" && !listed[rel] {
			t.Errorf("%s is not listed in kustomization.yaml", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, d := range deployed {
		if !strings.Contains(df, d.pkg) {
			t.Errorf("deploy/Dockerfile does not build %s", d.pkg)
		}
	}
	if strings.Contains(df, "providersim/cmd") {
		t.Error("deploy/Dockerfile builds providersim, which is not deployed")
	}
	// go.work names every module, so the build stage needs each one's
	// go.mod, or `go build` in the workspace fails.
	b, err = os.ReadFile("../go.work")
	if err != nil {
		t.Fatal(err)
	}
	work, err := modfile.ParseWork("go.work", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(work.Use) == 0 {
		t.Fatal("go.work uses no modules?")
	}
	for _, u := range work.Use {
		if dir := filepath.ToSlash(filepath.Clean(u.Path)); !strings.Contains(df, dir+"/go.mod") {
			t.Errorf("deploy/Dockerfile does not copy %s/go.mod, which go.work uses", dir)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "distroless/static", "nonroot", binPath} {
		if !strings.Contains(df, want) {
			t.Errorf("deploy/Dockerfile does not mention %s", want)
		}
	}
}

// binaryEnvNames is the TANDEM_* name of every flag the built binary has,
// read from its -h.
func binaryEnvNames(t *testing.T, name string) map[string]bool {
	t.Helper()
	if binDir == "" {
		t.Log("no binaries built: not checking flag names")
		return nil
	}
	cmd := exec.Command(filepath.Join(binDir, name), "-h")
	cmd.Env = []string{} // no TANDEM_* from this environment
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s -h: %v", name, err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f, ok := strings.CutPrefix(strings.TrimSpace(line), "-")
		if !ok || !strings.HasPrefix(line, "  -") {
			continue
		}
		f, _, _ = strings.Cut(f, " ")
		names["TANDEM_"+strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(f))] = true
	}
	if len(names) == 0 {
		t.Fatalf("%s -h listed no flags:\n%s", name, out)
	}
	return names
}

// --- rendering -----------------------------------------------------------

type objKey struct{ kind, name string }

func key(kind, name string) objKey { return objKey{kind, name} }

// manifests is the rendered base: its kustomization, and every object in
// its Kubernetes type (*appsv1.Deployment, *corev1.Service, ...).
type manifests struct {
	kustomization types.Kustomization
	objects       map[objKey]runtime.Object
}

// scheme knows the API types the base may use; an object of any other
// kind or version does not render.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

func render(t *testing.T, fsys filesys.FileSystem, dir string) *manifests {
	t.Helper()
	objs, err := renderObjects(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("no Kubernetes objects rendered")
	}
	m := &manifests{objects: objs}
	b, err := fsys.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &m.kustomization); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	return m
}

// renderObjects runs kustomize on dir and decodes each object strictly
// into the type its apiVersion and kind name.
func renderObjects(fsys filesys.FileSystem, dir string) (map[objKey]runtime.Object, error) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	objs := map[objKey]runtime.Object{}
	for _, r := range res.Resources() {
		gvk := schema.FromAPIVersionAndKind(r.GetApiVersion(), r.GetKind())
		obj, err := scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk, r.GetName(), err)
		}
		b, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk, r.GetName(), err)
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", gvk, r.GetName(), err)
		}
		objs[key(gvk.Kind, r.GetName())] = obj
	}
	return objs, nil
}

// find returns the object of type T (its Go type's name is its kind) called
// name.
func find[T any](m *manifests, name string) (*T, bool) {
	o, ok := any(m.objects[key(reflect.TypeFor[T]().Name(), name)]).(*T)
	return o, ok
}

// pods is the pod template of every Deployment and StatefulSet.
func (m *manifests) pods() []corev1.PodTemplateSpec {
	var pods []corev1.PodTemplateSpec
	for _, o := range m.objects {
		switch w := o.(type) {
		case *appsv1.Deployment:
			pods = append(pods, w.Spec.Template)
		case *appsv1.StatefulSet:
			pods = append(pods, w.Spec.Template)
		}
	}
	return pods
}

// container is the first container of the Deployment name.
func (m *manifests) container(t *testing.T, name string) corev1.Container {
	t.Helper()
	d, ok := find[appsv1.Deployment](m, name)
	if !ok {
		t.Fatalf("no Deployment %s", name)
	}
	if len(d.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("Deployment %s has no container", name)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// data is every key of the ConfigMap or Secret name, with its value; nil
// when there is no such object.
func (m *manifests) data(kind, name string) map[string]string {
	all := map[string]string{}
	switch o := m.objects[key(kind, name)].(type) {
	case *corev1.ConfigMap:
		for k, v := range o.Data {
			all[k] = v
		}
		for k, v := range o.BinaryData {
			all[k] = string(v)
		}
	case *corev1.Secret:
		for k, v := range o.Data {
			all[k] = string(v)
		}
		for k, v := range o.StringData {
			all[k] = v
		}
	default:
		return nil
	}
	return all
}

// env resolves a variable of c, following ConfigMap and Secret references.
// A reference to a key that does not exist fails the test unless it is
// optional.
func (m *manifests) env(t *testing.T, c corev1.Container, name string) (string, bool) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		var kind, obj, k string
		var optional *bool
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			kind, obj, k, optional = "ConfigMap", r.Name, r.Key, r.Optional
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			kind, obj, k, optional = "Secret", r.Name, r.Key, r.Optional
		default:
			return e.Value, true
		}
		v, ok := m.data(kind, obj)[k]
		if !ok && !isTrue(optional) {
			t.Errorf("%s: %s refers to %s %s key %s, which does not exist", c.Name, name, kind, obj, k)
		}
		return v, ok
	}
	return "", false
}

// envNames is every variable c gets: its env, and the keys of whole
// ConfigMaps and Secrets it takes with envFrom.
func (m *manifests) envNames(c corev1.Container) []string {
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			data = m.data("ConfigMap", from.ConfigMapRef.Name)
		case from.SecretRef != nil:
			data = m.data("Secret", from.SecretRef.Name)
		}
		for k := range data {
			names = append(names, k)
		}
	}
	return names
}

// serviceReaches reports whether the Service name has port servicePort that
// targets containerPort of the pods it selects (those of the workload of
// the same name).
func (m *manifests) serviceReaches(name string, servicePort, port int) bool {
	svc, ok := find[corev1.Service](m, name)
	if !ok || len(svc.Spec.Selector) == 0 {
		return false
	}
	var pod *corev1.PodTemplateSpec
	if d, ok := find[appsv1.Deployment](m, name); ok {
		pod = &d.Spec.Template
	} else if s, ok := find[appsv1.StatefulSet](m, name); ok {
		pod = &s.Spec.Template
	}
	if pod == nil || !subset(svc.Spec.Selector, pod.Labels) || len(pod.Spec.Containers) == 0 {
		return false
	}
	c := pod.Spec.Containers[0]
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target == (intstr.IntOrString{}) {
			target = intstr.FromInt32(p.Port) // Kubernetes' default: the same number
		}
		if int(p.Port) == servicePort && resolvePort(c, target) == port {
			return true
		}
	}
	return false
}

// rendered is the image reference kustomize writes for an images entry.
func rendered(i types.Image) string {
	ref := cmp.Or(i.NewName, i.Name)
	if i.NewTag != "" {
		ref += ":" + i.NewTag
	}
	if i.Digest != "" {
		ref += "@" + i.Digest
	}
	return ref
}

// containerPort is the number of c's port called name.
func containerPort(c corev1.Container, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	return 0
}

// resolvePort turns a port number or name into a number.
func resolvePort(c corev1.Container, p intstr.IntOrString) int {
	if p.Type == intstr.Int {
		return p.IntValue()
	}
	return containerPort(c, p.StrVal)
}

// hasSetting reports whether a Redis config text (or argument list) sets
// want, e.g. "appendonly yes", on an uncommented line or as --appendonly yes.
func hasSetting(text, want string) bool {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
		if strings.Contains(" "+strings.Join(strings.Fields(line), " ")+" ", " --"+want+" ") {
			return true
		}
	}
	return false
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return ptr.Deref(b, false) }

func parseDuration(t *testing.T, name, v string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s=%q: %v", name, v, err)
	}
	return d
}
