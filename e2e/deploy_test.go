package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The Kubernetes base in deploy/ is checked against the code it deploys: the
// binaries' real flags, their ports, the Dockerfile that builds them. It
// needs no cluster; the binaries are the ones TestMain built.

const (
	deployDir   = "../deploy"
	deployBase  = deployDir + "/kubernetes/base"
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
	m := loadManifests(t)

	t.Run("namespace", func(t *testing.T) {
		if m.kustomization.Namespace != "tandem" {
			t.Errorf("kustomization.yaml: namespace is %q, want tandem", m.kustomization.Namespace)
		}
		if _, ok := m.objects[key("Namespace", "tandem")]; !ok {
			t.Error("no Namespace tandem")
		}
	})

	for _, d := range deployed {
		t.Run(d.name, func(t *testing.T) { checkDeployment(t, m, d.name, d.port, d.grpc) })
	}

	t.Run("gateway finds the services", func(t *testing.T) {
		gw := m.container(t, "Deployment", "gateway")
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
			if p, _ := strconv.Atoi(port); !m.serviceReaches(t, d.name, p, d.port) {
				t.Errorf("gateway: %s=%q: Service %s has no port %s reaching container port %d", env, addr, d.name, port, d.port)
			}
		}
	})

	// Every ConfigMap and Secret key a container refers to exists, and every
	// key is read by some container.
	t.Run("config and secret references", func(t *testing.T) {
		used := map[string]bool{}
		for k, o := range m.objects {
			if k.kind != "Deployment" && k.kind != "StatefulSet" {
				continue
			}
			var w workload
			m.decode(t, o, &w)
			for _, v := range w.Spec.Template.Spec.Volumes {
				if v.ConfigMap != nil {
					used["ConfigMap/"+v.ConfigMap.Name+"/*"] = true
				}
			}
			for _, c := range w.Spec.Template.Spec.Containers {
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
					if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
						used["ConfigMap/"+r.Name+"/"+r.Key] = true
					}
					if r := e.ValueFrom.SecretKeyRef; r != nil {
						used["Secret/"+r.Name+"/"+r.Key] = true
					}
				}
			}
		}
		for _, kind := range []string{"ConfigMap", "Secret"} {
			for k, o := range m.objects {
				if k.kind != kind || used[kind+"/"+k.name+"/*"] {
					continue // used whole: mounted as files, or envFrom
				}
				var data dataObject
				m.decode(t, o, &data)
				for name := range data.all() {
					if !used[kind+"/"+k.name+"/"+name] {
						t.Errorf("%s %s: key %s is read by no container", kind, k.name, name)
					}
				}
			}
		}
	})

	t.Run("secret template", func(t *testing.T) {
		found := false
		for k, o := range m.objects {
			if k.kind != "Secret" {
				continue
			}
			found = true
			var s dataObject
			m.decode(t, o, &s)
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

func checkDeployment(t *testing.T, m *manifests, name string, port int, grpc bool) {
	o, ok := m.objects[key("Deployment", name)]
	if !ok {
		t.Fatalf("no Deployment %s", name)
	}
	var w workload
	m.decode(t, o, &w)
	pod := w.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s: %d containers, want 1", name, len(pod.Containers))
	}
	c := pod.Containers[0]

	if want := binPath + name; len(c.Command) == 0 || c.Command[0] != want {
		t.Errorf("command is %q, want %s (where deploy/Dockerfile puts it)", c.Command, want)
	}
	if !slices.ContainsFunc(m.kustomization.Images, func(i image) bool { return i.Name == c.Image }) {
		t.Errorf("image %q is not set by kustomization.yaml's images", c.Image)
	}
	if !subset(w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) || len(w.Spec.Selector.MatchLabels) == 0 {
		t.Errorf("selector %v does not match the pod's labels %v", w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels)
	}

	// Ports: the container's, its probes', its listen address, its Service.
	portName := "http"
	addrEnv := "TANDEM_HTTP_ADDR"
	if grpc {
		portName, addrEnv = "grpc", "TANDEM_GRPC_ADDR"
	}
	if got := c.port(portName); got != port {
		t.Errorf("container port %q is %d, want %d", portName, got, port)
	}
	if addr, ok := m.env(t, c, addrEnv); !ok {
		t.Errorf("%s not set (the binary's default listens on 127.0.0.1 only)", addrEnv)
	} else if host, p, err := net.SplitHostPort(addr); err != nil || p != strconv.Itoa(port) || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Errorf("%s=%q, want \":%d\"", addrEnv, addr, port)
	}
	for _, p := range []struct {
		what  string
		probe *probe
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
		case grpc && p.probe.GRPC.Port != port:
			t.Errorf("%s probe checks port %d, the container listens on %d", p.what, p.probe.GRPC.Port, port)
		case grpc && p.what == "liveness" && p.probe.GRPC.Service != "liveness":
			// The overall health follows Postgres and Redis; liveness on it
			// would restart every pod during a store outage.
			t.Errorf("liveness probe asks for health service %q, want \"liveness\"", p.probe.GRPC.Service)
		case grpc && p.what == "readiness" && p.probe.GRPC.Service != "":
			t.Errorf("readiness probe asks for health service %q, want the overall status", p.probe.GRPC.Service)
		case !grpc && p.probe.HTTPGet == nil:
			t.Errorf("%s probe is not an HTTP probe", p.what)
		case !grpc && p.probe.HTTPGet.Path != p.path:
			t.Errorf("%s probe gets %q, want %s", p.what, p.probe.HTTPGet.Path, p.path)
		case !grpc && c.resolvePort(p.probe.HTTPGet.Port) != port:
			t.Errorf("%s probe checks port %q, the container listens on %d", p.what, p.probe.HTTPGet.Port, port)
		}
	}
	if !m.serviceReaches(t, name, port, port) {
		t.Errorf("no Service %s with port %d reaching the container port", name, port)
	}

	// Resources and privileges.
	for _, r := range []struct {
		what string
		m    map[string]string
		name string
	}{{"requests", c.Resources.Requests, "cpu"}, {"requests", c.Resources.Requests, "memory"}, {"limits", c.Resources.Limits, "memory"}} {
		if r.m[r.name] == "" {
			t.Errorf("no resources.%s.%s", r.what, r.name)
		}
	}
	if !isTrue(c.SecurityContext.RunAsNonRoot) && !isTrue(pod.SecurityContext.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if !isTrue(c.SecurityContext.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}

	// Graceful stop: the pod leaves the endpoints before the server stops
	// (the binary's drain delay, or a preStop sleep), and Kubernetes waits
	// for the whole stop before killing it.
	var drain time.Duration
	if v, ok := m.env(t, c, "TANDEM_DRAIN_DELAY"); ok {
		drain = parseDuration(t, "TANDEM_DRAIN_DELAY", v)
	}
	if c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
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
		for _, e := range c.envNames(t, m) {
			if strings.HasPrefix(e, "TANDEM_") && !flags[e] {
				t.Errorf("%s is not a flag of %s (see %s -h)", e, name, name)
			}
		}
	}

	// Scaling and disruptions.
	if w.Spec.Replicas != nil {
		t.Errorf("spec.replicas is set; the HorizontalPodAutoscaler owns the count and apply would reset it")
	}
	var hpa struct {
		Spec struct {
			ScaleTargetRef struct {
				Kind string `yaml:"kind"`
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas *int        `yaml:"minReplicas"`
			MaxReplicas int         `yaml:"maxReplicas"`
			Metrics     []hpaMetric `yaml:"metrics"`
		} `yaml:"spec"`
	}
	if o, ok := m.objects[key("HorizontalPodAutoscaler", name)]; !ok {
		t.Errorf("no HorizontalPodAutoscaler %s", name)
	} else {
		m.decode(t, o, &hpa)
		s := hpa.Spec
		if s.ScaleTargetRef.Kind != "Deployment" || s.ScaleTargetRef.Name != name {
			t.Errorf("HorizontalPodAutoscaler %s scales %s %s", name, s.ScaleTargetRef.Kind, s.ScaleTargetRef.Name)
		}
		if s.MinReplicas == nil || *s.MinReplicas < 2 || s.MaxReplicas < *s.MinReplicas {
			t.Errorf("HorizontalPodAutoscaler %s: want at least 2 replicas, and max >= min", name)
		}
		if !slices.ContainsFunc(s.Metrics, func(mt hpaMetric) bool { return mt.Resource.Name == "cpu" }) {
			t.Errorf("HorizontalPodAutoscaler %s does not scale on CPU", name)
		}
	}
	var pdb struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	if o, ok := m.objects[key("PodDisruptionBudget", name)]; !ok {
		t.Errorf("no PodDisruptionBudget %s", name)
	} else {
		m.decode(t, o, &pdb)
		if len(pdb.Spec.Selector.MatchLabels) == 0 || !subset(pdb.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) {
			t.Errorf("PodDisruptionBudget %s does not select the Deployment's pods", name)
		}
	}
}

func checkRedis(t *testing.T, m *manifests) {
	o, ok := m.objects[key("StatefulSet", "redis")]
	if !ok {
		t.Fatal("no StatefulSet redis")
	}
	var w workload
	m.decode(t, o, &w)
	if w.Spec.Replicas == nil || *w.Spec.Replicas != 1 {
		t.Error("StatefulSet redis: want exactly 1 replica")
	}
	if len(w.Spec.VolumeClaimTemplates) == 0 {
		t.Fatal("StatefulSet redis: no volumeClaimTemplates; the AOF would die with the pod")
	}
	pod := w.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("StatefulSet redis: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Error("StatefulSet redis: readiness and liveness probes wanted")
	}
	if !isTrue(c.SecurityContext.RunAsNonRoot) && !isTrue(pod.SecurityContext.RunAsNonRoot) {
		t.Error("StatefulSet redis: runAsNonRoot is not set")
	}
	claims := map[string]bool{}
	for _, v := range w.Spec.VolumeClaimTemplates {
		claims[v.Metadata.Name] = true
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
		var data dataObject
		if o, ok := m.objects[key("ConfigMap", cm)]; ok {
			m.decode(t, o, &data)
		}
		for file, text := range data.Data {
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
	if !m.serviceReaches(t, "redis", 6379, c.port("redis")) {
		t.Error("no Service redis reaching Redis's port 6379")
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
	for _, dir := range workspaceModules(t) {
		if !strings.Contains(df, dir+"/go.mod") {
			t.Errorf("deploy/Dockerfile does not copy %s/go.mod, which go.work uses", dir)
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "distroless/static", "nonroot", binPath} {
		if !strings.Contains(df, want) {
			t.Errorf("deploy/Dockerfile does not mention %s", want)
		}
	}
}

// workspaceModules are the directories go.work uses, relative to the root.
func workspaceModules(t *testing.T) []string {
	b, err := os.ReadFile("../go.work")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	inUse := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "use (":
			inUse = true
		case inUse && line == ")":
			inUse = false
		case inUse && line != "":
			dirs = append(dirs, filepath.ToSlash(filepath.Clean(line)))
		case strings.HasPrefix(line, "use "):
			dirs = append(dirs, filepath.ToSlash(filepath.Clean(strings.TrimSpace(strings.TrimPrefix(line, "use ")))))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("go.work uses no modules?")
	}
	return dirs
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

// --- loading -----------------------------------------------------------

type objKey struct{ kind, name string }

func key(kind, name string) objKey { return objKey{kind, name} }

type image struct {
	Name string `yaml:"name"`
}

type manifests struct {
	kustomization struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
		Images    []image  `yaml:"images"`
	}
	objects map[objKey]*yaml.Node
	files   map[objKey]string
}

// loadManifests reads kustomization.yaml and every document of every file
// it lists, and checks that the directory holds nothing it does not list.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{objects: map[objKey]*yaml.Node{}, files: map[objKey]string{}}
	b, err := os.ReadFile(filepath.Join(deployBase, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &m.kustomization); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	listed := map[string]bool{}
	for _, r := range m.kustomization.Resources {
		listed[filepath.ToSlash(filepath.Clean(r))] = true
		if _, err := os.Stat(filepath.Join(deployBase, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	err = filepath.WalkDir(deployBase, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(deployBase, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "kustomization.yaml" {
			return nil
		}
		if !listed[rel] {
			t.Errorf("%s is not listed in kustomization.yaml", rel)
		}
		return m.loadFile(t, path, rel)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.objects) == 0 {
		t.Fatal("no Kubernetes objects found")
	}
	return m
}

func (m *manifests) loadFile(t *testing.T, path, rel string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		var h struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := doc.Decode(&h); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if h.Kind == "" && h.APIVersion == "" {
			continue // an empty document
		}
		if h.Kind == "" || h.APIVersion == "" || h.Metadata.Name == "" {
			t.Errorf("%s: a document without apiVersion, kind or name", rel)
			continue
		}
		k := key(h.Kind, h.Metadata.Name)
		if prev, ok := m.files[k]; ok {
			t.Errorf("%s %s is in both %s and %s", h.Kind, h.Metadata.Name, prev, rel)
		}
		m.objects[k], m.files[k] = &doc, rel
	}
}

func (m *manifests) decode(t *testing.T, n *yaml.Node, v any) {
	t.Helper()
	if err := n.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func (m *manifests) container(t *testing.T, kind, name string) container {
	t.Helper()
	o, ok := m.objects[key(kind, name)]
	if !ok {
		t.Fatalf("no %s %s", kind, name)
	}
	var w workload
	m.decode(t, o, &w)
	if len(w.Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("%s %s has no container", kind, name)
	}
	return w.Spec.Template.Spec.Containers[0]
}

// env resolves a variable of c, following ConfigMap and Secret references.
// A reference to a key that does not exist fails the test unless it is
// optional.
func (m *manifests) env(t *testing.T, c container, name string) (string, bool) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		var kind string
		var r *keyRef
		switch {
		case e.ValueFrom.ConfigMapKeyRef != nil:
			kind, r = "ConfigMap", e.ValueFrom.ConfigMapKeyRef
		case e.ValueFrom.SecretKeyRef != nil:
			kind, r = "Secret", e.ValueFrom.SecretKeyRef
		default:
			return e.Value, true
		}
		var data dataObject
		if o, ok := m.objects[key(kind, r.Name)]; ok {
			m.decode(t, o, &data)
		}
		v, ok := data.all()[r.Key]
		if !ok && !isTrue(r.Optional) {
			t.Errorf("%s: %s refers to %s %s key %s, which does not exist", c.Name, name, kind, r.Name, r.Key)
		}
		return v, ok
	}
	return "", false
}

// serviceReaches reports whether the Service name has port servicePort that
// targets containerPort of the pods it selects.
func (m *manifests) serviceReaches(t *testing.T, name string, servicePort, containerPort int) bool {
	t.Helper()
	o, ok := m.objects[key("Service", name)]
	if !ok {
		return false
	}
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Port       int    `yaml:"port"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	m.decode(t, o, &svc)
	if len(svc.Spec.Selector) == 0 {
		return false
	}
	// The pods it selects: the workload of the same name.
	var pods *workload
	for _, kind := range []string{"Deployment", "StatefulSet"} {
		if o, ok := m.objects[key(kind, name)]; ok {
			var w workload
			m.decode(t, o, &w)
			pods = &w
		}
	}
	if pods == nil || !subset(svc.Spec.Selector, pods.Spec.Template.Metadata.Labels) || len(pods.Spec.Template.Spec.Containers) == 0 {
		return false
	}
	c := pods.Spec.Template.Spec.Containers[0]
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target == "" {
			target = strconv.Itoa(p.Port)
		}
		if p.Port == servicePort && c.resolvePort(target) == containerPort {
			return true
		}
	}
	return false
}

// --- the parts of Kubernetes objects the checks read --------------------

type workload struct { // a Deployment or StatefulSet
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               securityContext `yaml:"securityContext"`
				Containers                    []container     `yaml:"containers"`
				Volumes                       []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type hpaMetric struct {
	Resource struct {
		Name string `yaml:"name"`
	} `yaml:"resource"`
}

type securityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional *bool  `yaml:"optional"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom struct {
			ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
			SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *keyRef `yaml:"configMapRef"`
		SecretRef    *keyRef `yaml:"secretRef"`
	} `yaml:"envFrom"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	GRPC *struct {
		Port    int    `yaml:"port"`
		Service string `yaml:"service"`
	} `yaml:"grpc"`
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port's name
	} `yaml:"httpGet"`
}

// port is the number of the container port called name.
func (c container) port(name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// resolvePort turns a port number or name into a number.
func (c container) resolvePort(p string) int {
	if n, err := strconv.Atoi(p); err == nil {
		return n
	}
	return c.port(p)
}

// envNames is every variable c gets: its env, and the keys of whole
// ConfigMaps and Secrets it takes with envFrom.
func (c container) envNames(t *testing.T, m *manifests) []string {
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, from := range c.EnvFrom {
		kind, r := "ConfigMap", from.ConfigMapRef
		if r == nil {
			kind, r = "Secret", from.SecretRef
		}
		if r == nil {
			continue
		}
		var data dataObject
		if o, ok := m.objects[key(kind, r.Name)]; ok {
			m.decode(t, o, &data)
		}
		for k := range data.all() {
			names = append(names, k)
		}
	}
	return names
}

type dataObject struct { // a ConfigMap or Secret
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

func (d dataObject) all() map[string]string {
	all := map[string]string{}
	for k, v := range d.Data {
		all[k] = v
	}
	for k, v := range d.StringData {
		all[k] = v
	}
	return all
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

func isTrue(b *bool) bool { return b != nil && *b }

func parseDuration(t *testing.T, name, v string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s=%q: %v", name, v, err)
	}
	return d
}
