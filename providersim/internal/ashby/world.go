package ashby

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// meta is what every listed record has: its id, its place in creation order
// (ord, the pagination order) and the change sequence number of its last
// change (seq, what incremental sync compares).
type meta struct {
	id      string
	ord     int64
	seq     int64
	created time.Time
	updated time.Time
}

// world is everything Ashby stores, for every organization.
type world struct {
	seq, ord int64

	orgs         map[string]*org
	orgOrder     []*org
	keys         map[string]*apiKey
	keysBySecret map[string]*apiKey
	users        map[string]*user
	jobs         map[string]*job
	plans        map[string]*plan
	stages       map[string]*stage
	sources      map[string]*source
	reasons      map[string]*archiveReason
	templates    map[string]*template
	candidates   map[string]*candidate
	applications map[string]*application
	webhooks     map[string]*webhook
	files        map[string]*file // by handle
	cursors      map[string]*cursorState
	syncTokens   map[string]*syncState
	// tooLarge makes the next incremental rounds fail, by endpoint ("" any).
	tooLarge map[string]int
	// mergedInto maps a merged-away candidate to the one it became.
	mergedInto map[string]string
}

func newWorld() *world {
	return &world{
		orgs: map[string]*org{}, keys: map[string]*apiKey{}, keysBySecret: map[string]*apiKey{},
		users: map[string]*user{}, jobs: map[string]*job{}, plans: map[string]*plan{}, stages: map[string]*stage{},
		sources: map[string]*source{}, reasons: map[string]*archiveReason{}, templates: map[string]*template{},
		candidates: map[string]*candidate{}, applications: map[string]*application{}, webhooks: map[string]*webhook{},
		files: map[string]*file{}, cursors: map[string]*cursorState{}, syncTokens: map[string]*syncState{},
		tooLarge: map[string]int{}, mergedInto: map[string]string{},
	}
}

// born stamps a new record.
func (w *world) born(m *meta, id string, now time.Time) {
	w.ord++
	w.seq++
	m.id, m.ord, m.seq, m.created, m.updated = id, w.ord, w.seq, now, now
}

// touch marks a record changed.
func (w *world) touch(m *meta, now time.Time) {
	w.seq++
	m.seq, m.updated = w.seq, now
}

type org struct {
	id, name     string
	users        []*user
	jobs         []*job
	plans        []*plan
	sourceTypes  []*sourceType
	sources      []*source
	reasons      []*archiveReason
	templates    []*template
	candidates   []*candidate
	applications []*application
	keys         []*apiKey
	webhooks     []*webhook
}

type apiKey struct {
	id, orgID, title, secret string
	perms                    map[string]string // module -> read|write
	userID                   string
	confidential             bool
	deactivated              bool
	created                  time.Time
}

func (k *apiKey) allows(module string, write bool) bool {
	switch k.perms[module] {
	case "write":
		return true
	case "read":
		return !write
	}
	return false
}

type user struct {
	meta
	orgID                      string
	firstName, lastName, email string
	globalRole                 string
	enabled                    bool
	managerID                  string
}

type job struct {
	meta
	orgID          string
	title, status  string
	employmentType string
	confidential   bool
	requisitionID  string
	planIDs        []string // the first is the default plan
	openedAt       time.Time
	closedAt       time.Time
	locationID     string
	departmentID   string
	authorID       string
}

type plan struct {
	meta
	orgID    string
	title    string
	archived bool
	stages   []*stage
}

type stage struct {
	id, planID, title, typ, groupID string
	order                           int
}

type sourceType struct {
	id, title string
	archived  bool
}

type source struct {
	id, orgID, title string
	archived         bool
	typ              *sourceType
}

type archiveReason struct {
	id, orgID, text, reasonType string
	archived                    bool
}

type template struct{ id, orgID, title string }

type emailAddress struct{ value, typ string }

type socialLink struct{ typ, url string }

type location struct {
	City    string `json:"city,omitempty"`
	Region  string `json:"region,omitempty"`
	Country string `json:"country,omitempty"`
}

type candidate struct {
	meta
	orgID           string
	name            string
	emails          []emailAddress // the first is primary
	phones          []emailAddress
	links           []socialLink
	sourceID        string
	creditedTo      string
	position        string
	company         string
	school          string
	loc             *location
	tags            []string
	applicationIDs  []string
	resume          *file
	notes           []*note
	emails2         []*emailMessage // logged with addEmailMessage
	createdByKeyID  string
	externalMapping string
}

type application struct {
	meta
	orgID           string
	candidateID     string
	jobID           string
	planID          string
	stageID         string
	sourceID        string
	creditedTo      string
	archiveReasonID string
	archivedAt      time.Time
	history         []*historyEntry
	createdByKeyID  string
}

type historyEntry struct {
	meta
	stageID   string
	title     string
	number    int
	enteredAt time.Time
	leftAt    time.Time
	actorID   string
}

type note struct {
	meta
	content, contentType string
	private              bool
	authorID, keyID      string
}

type emailMessage struct {
	id, providerID, keyID string
	subject, body         string
	from, to, cc          json.RawMessage
	userID, sentAt        string
	messageURL            string
	messageIDHeader       string
	threadID              string
	private               bool
	created               time.Time
}

type file struct {
	id, handle, orgID, keyID string
	name, contentType        string
	context                  string
	declaredLength           int
	data                     []byte
	uploaded                 bool
	expires                  time.Time
	uploadKey                string // the S3 object key
}

func (f *file) sha() string {
	sum := sha256.Sum256(f.data)
	return hex.EncodeToString(sum[:])
}

type webhook struct {
	id, orgID, typ, url, secret string
	enabled                     bool
}

// stageStatus is the application status a stage type gives.
func stageStatus(typ string) string {
	switch typ {
	case "Lead", "Hired", "Archived":
		return typ
	}
	return "Active"
}
