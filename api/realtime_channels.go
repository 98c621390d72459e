package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"basalt.dev/basalt"
	"basalt.dev/basalt/realtime"
	"basalt.dev/basalt/records"
	"basalt.dev/basalt/store"
)

// Channels: broadcasts and presence between realtime clients, never
// stored (docs/api.md, "Channels"). The records service decides who may
// use a channel; realtime.Channels carries the messages between
// connections and nodes.

// Bounds of what clients send. A broadcast's data fits PostgreSQL's
// NOTIFY, which carries it between nodes, with room for the rest of the
// message: channel, event, sender (realtime.MaxPayload). One limit on
// both stores, so an application that works on SQLite works on many
// nodes.
const (
	maxBroadcastData = 7 << 10
	maxPresenceMeta  = 1 << 10
	maxEventName     = 64
	maxPresenceList  = 1000
	// inboxSize is the broadcasts and presence changes a connection may
	// have pending before it misses some.
	inboxSize = 256
)

// validEvent reports whether s is a broadcast's event name: 1 to 64
// letters, digits and _ . : -.
func validEvent(s string) bool {
	if s == "" || len(s) > maxEventName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// broadcastIn is the body of POST /api/realtime/broadcast and the fields
// of a WebSocket broadcast message.
type broadcastIn struct {
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
}

// check validates the event and returns the data compacted: the form it
// travels and is counted in.
func (in *broadcastIn) check() (json.RawMessage, error) {
	if !validEvent(in.Event) {
		return nil, basalt.Invalid("Invalid broadcast.", basalt.FieldError{Field: "event", Code: "invalid",
			Message: "name the event with 1 to 64 letters, digits and _ . : -, such as cursor or chat.message"})
	}
	if len(in.Data) == 0 {
		return json.RawMessage("null"), nil
	}
	data, err := compactJSON(in.Data, "data")
	if err != nil {
		return nil, err
	}
	if len(data) > maxBroadcastData {
		return nil, basalt.Errorf(basalt.CodeTooLarge, "The broadcast's data is %d bytes of JSON; at most %d: broadcast a record's id and store the content as a record.", len(data), maxBroadcastData)
	}
	return data, nil
}

// compactJSON returns raw without insignificant space. Text that is not
// UTF-8 is refused: PostgreSQL's notifications would refuse it later.
func compactJSON(raw []byte, field string) (json.RawMessage, error) {
	var b bytes.Buffer
	if !utf8.Valid(raw) || json.Compact(&b, raw) != nil {
		return nil, basalt.Invalid("Invalid JSON.", basalt.FieldError{Field: field, Code: "invalid", Message: field + " must be JSON in UTF-8"})
	}
	return b.Bytes(), nil
}

// handleBroadcast serves POST /api/realtime/broadcast: a message to the
// current members of a channel on every node, best effort, never stored.
func (s *Server) handleBroadcast() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var in broadcastIn
		if err := decodeInto(r, &in); err != nil {
			return err
		}
		data, err := in.check()
		if err != nil {
			return err
		}
		ch, err := s.d.Records.Channel(r.Context(), in.Channel)
		if err != nil {
			return err
		}
		from := realtime.FromPrincipal(basalt.PrincipalFrom(r.Context()))
		if err := s.publish(r.Context(), ch, in.Event, data, from); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
}

// publish broadcasts to a channel the caller may use.
func (s *Server) publish(ctx context.Context, ch *records.ChannelAccess, event string, data json.RawMessage, from realtime.From) error {
	err := s.d.Channels.Publish(ctx, &realtime.Message{Tenant: ch.Tenant(), Channel: ch.Name, Type: realtime.TypeBroadcast, Skip: from.Key,
		Body: realtime.BroadcastBody(ch.Name, event, data, from)})
	if err != nil {
		return fmt.Errorf("api: broadcast to %s: %w", ch.Name, err)
	}
	return nil
}

// handlePresenceList serves GET /api/realtime/presence?channel=: who is
// in the channel, on every node, oldest first.
func (s *Server) handlePresenceList() http.Handler {
	return errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		name := r.URL.Query().Get("channel")
		if name == "" {
			return basalt.Invalid("Name the channel.", basalt.FieldError{Field: "channel", Code: "required", Message: "channel=docs/ID"})
		}
		ch, err := s.d.Records.Channel(r.Context(), name)
		if err != nil {
			return err
		}
		list, err := s.d.Presence.List(r.Context(), ch.Tenant(), ch.Name, maxPresenceList)
		if err != nil {
			return err
		}
		b := appendPresenceList(append(make([]byte, 0, 64+150*len(list)), `{"items":`...), list)
		w.Header().Set("Cache-Control", "no-store")
		writeRaw(w, http.StatusOK, append(b, "}\n"...))
		return nil
	})
}

// channelSet is the channels of one realtime connection: its inbox,
// memberships and presence. The stream's goroutine alone uses it.
type channelSet struct {
	s      *Server
	p      *basalt.Principal
	member *realtime.Member
	joined []*joinedChannel
}

type joinedChannel struct {
	access   *records.ChannelAccess
	presence bool // the connection is present in it (the others see it)
	// present is who was in the channel when the connection joined, as a
	// JSON array, until the joined message has carried it.
	present json.RawMessage
}

// appendPresenceList appends list as a JSON array of entries.
func appendPresenceList(b []byte, list []store.PresenceEntry) []byte {
	b = append(b, '[')
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(realtime.AppendPresenceEntry(append(b, '{'), &list[i]), '}')
	}
	return append(b, ']')
}

// newChannelSet returns the channels of a connection of p, none yet. The
// inbox comes with the first channel: most connections have none.
func (s *Server) newChannelSet(p *basalt.Principal) *channelSet {
	return &channelSet{s: s, p: p}
}

// C delivers the messages of the connection's channels; nil, which
// never delivers, before the first.
func (cs *channelSet) C() <-chan *realtime.Message {
	if cs.member == nil {
		return nil
	}
	return cs.member.C()
}

// Key is the connection's key: its presence key, and the sender key of
// its broadcasts. "" before the first channel.
func (cs *channelSet) Key() string {
	if cs.member == nil {
		return ""
	}
	return cs.member.Key
}

// names returns the channels the connection is in.
func (cs *channelSet) names() []string {
	out := make([]string, len(cs.joined))
	for i, j := range cs.joined {
		out[i] = j.access.Name
	}
	return out
}

func (cs *channelSet) find(name string) int {
	return slices.IndexFunc(cs.joined, func(j *joinedChannel) bool { return j.access.Name == name })
}

// parseChannelNames reads "docs,docs/ID" (several values join) into
// channel names, without duplicates.
func parseChannelNames(values []string) []string {
	var out []string
	for _, item := range strings.Split(strings.Join(values, ","), ",") {
		if item = strings.TrimSpace(item); item != "" && !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out
}

// parsePresence checks presence meta sent by a client: a JSON object of
// at most 1 KiB. nil stays nil: no presence.
func parsePresence(raw []byte) (json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	meta, err := compactJSON(raw, "presence")
	if err != nil {
		return nil, err
	}
	if len(meta) > maxPresenceMeta || meta[0] != '{' {
		return nil, basalt.Invalid("Invalid presence.", basalt.FieldError{Field: "presence", Code: "invalid",
			Message: fmt.Sprintf("presence must be a JSON object of at most %d bytes, such as {\"name\":\"Ada\"}", maxPresenceMeta)})
	}
	return meta, nil
}

// authorize checks the caller's access to each channel named, before a
// stream starts; others counts the connection's other subscriptions,
// which share --realtime-max-subscriptions with channels.
func (s *Server) authorizeChannels(ctx context.Context, names []string, others int) ([]*records.ChannelAccess, error) {
	if len(names) > 0 && s.d.Channels == nil {
		return nil, basalt.Errorf(basalt.CodeBadRequest, "This server has no realtime channels.")
	}
	if others+len(names) > s.cfg.Realtime.MaxSubscriptions {
		return nil, s.tooManySubscriptions()
	}
	var out []*records.ChannelAccess
	for _, name := range names {
		ch, err := s.d.Records.Channel(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// sseChannels joins the channels an SSE request names (channel=docs/ID,
// present with presence=<JSON object> if given); others counts its
// record subscriptions. Its refusals are problems, before the stream.
func (s *Server) sseChannels(ctx context.Context, q url.Values, others int) (*channelSet, error) {
	names := parseChannelNames(q["channel"])
	if len(names) == 0 && others == 0 {
		return nil, basalt.Invalid("Nothing to subscribe to.", basalt.FieldError{Field: "channel", Code: "required",
			Message: "name channels (channel=docs/ID) or collections and records (subscribe=posts)"})
	}
	var meta json.RawMessage
	if q.Has("presence") {
		if len(names) == 0 {
			return nil, basalt.Invalid("Presence needs a channel.", basalt.FieldError{Field: "presence", Code: "invalid",
				Message: "name the channels to be present in: channel=docs/ID&presence={...}"})
		}
		var err error
		if meta, err = parsePresence([]byte(q.Get("presence"))); err != nil {
			return nil, err
		}
	}
	access, err := s.authorizeChannels(ctx, names, others)
	if err != nil {
		return nil, err
	}
	cs := s.newChannelSet(basalt.PrincipalFrom(ctx))
	for _, ch := range access {
		if err := cs.join(ctx, ch, meta); err != nil {
			cs.close(ctx)
			return nil, err
		}
	}
	return cs, nil
}

// join enters the connection into a channel it may use, present with
// meta unless meta is nil. Joining a channel again changes its presence.
// The membership comes first, so the connection gets its own join.
func (cs *channelSet) join(ctx context.Context, ch *records.ChannelAccess, meta json.RawMessage) error {
	if cs.member == nil {
		cs.member = realtime.NewMember(inboxSize)
	}
	i := cs.find(ch.Name)
	fresh := i < 0
	if fresh {
		cs.s.d.Channels.Join(cs.member, ch.Tenant(), ch.Name)
		cs.joined = append(cs.joined, &joinedChannel{access: ch})
		i = len(cs.joined) - 1
	}
	j := cs.joined[i]
	j.access = ch
	switch {
	case meta != nil:
		kind, id := presenceOf(cs.p)
		err := cs.s.d.Presence.Join(ctx, store.PresenceEntry{TenantID: ch.Tenant(), Channel: ch.Name, Key: cs.member.Key,
			Kind: kind, PrincipalID: id, Meta: meta})
		if err != nil {
			if fresh {
				cs.leave(ctx, ch.Name) // all or nothing
			}
			return err
		}
		j.presence = true
	case j.presence:
		j.presence = false
		return cs.s.d.Presence.Leave(ctx, ch.Tenant(), ch.Name, cs.member.Key)
	}
	if fresh {
		// Who is there, read after the connection follows the channel:
		// a join or leave from before the read that arrives after it
		// changes nothing a client applying them by key would not have.
		list, err := cs.s.d.Presence.List(ctx, ch.Tenant(), ch.Name, maxPresenceList)
		if err != nil {
			cs.leave(ctx, ch.Name) // all or nothing
			return err
		}
		j.present = appendPresenceList(nil, list)
	}
	return nil
}

// present hands over who was in the channel when the connection joined
// it, once: null after.
func (cs *channelSet) present(name string) json.RawMessage {
	i := cs.find(name)
	if i < 0 {
		return nil
	}
	p := cs.joined[i].present
	cs.joined[i].present = nil
	return p
}

func presenceOf(p *basalt.Principal) (kind, id string) {
	f := realtime.FromPrincipal(p)
	return f.Kind, f.ID
}

// leave takes the connection out of a channel; one it is not in is left
// already.
func (cs *channelSet) leave(ctx context.Context, name string) error {
	i := cs.find(name)
	if i < 0 {
		return nil
	}
	j := cs.joined[i]
	cs.joined = slices.Delete(cs.joined, i, i+1)
	cs.s.d.Channels.Leave(cs.member, j.access.Tenant(), j.access.Name)
	if !j.presence {
		return nil
	}
	return cs.s.d.Presence.Leave(ctx, j.access.Tenant(), j.access.Name, cs.member.Key)
}

// close leaves every channel as the connection ends; the request's
// context may be over by then, so the leaves get their own.
func (cs *channelSet) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for len(cs.joined) > 0 {
		name := cs.joined[len(cs.joined)-1].access.Name
		if err := cs.leave(ctx, name); err != nil {
			cs.s.d.Log.Warn("realtime: leave channel", "channel", name, "err", err) // the entry expires
		}
	}
}

// lostChannel tells a client it was taken out of a channel it may no
// longer use: {"channel","status","code","detail"}; a leave the client
// asked for has the channel alone.
type lostChannel struct {
	Channel string      `json:"channel"`
	Status  int         `json:"status,omitempty"`
	Code    basalt.Code `json:"code,omitempty"`
	Detail  string      `json:"detail,omitempty"`
}

// recheck checks the connection's access to each of its channels again
// and takes it out of those it lost (a rule or the record changed).
func (cs *channelSet) recheck(ctx context.Context) []lostChannel {
	var lost []lostChannel
	for _, j := range slices.Clone(cs.joined) {
		if l, ok := cs.still(ctx, j); !ok {
			lost = append(lost, l)
		}
	}
	return lost
}

// still checks j again; when the caller lost it, the connection leaves
// it. A failure of the store is no answer: the channel stays.
func (cs *channelSet) still(ctx context.Context, j *joinedChannel) (lostChannel, bool) {
	err := j.access.Check(ctx)
	code := basalt.ErrorCode(err)
	switch {
	case err == nil:
		return lostChannel{}, true
	case code != basalt.CodeForbidden && code != basalt.CodeNotFound && code != basalt.CodeUnauthenticated:
		cs.s.d.Log.Warn("realtime: check channel", "channel", j.access.Name, "err", err)
		return lostChannel{}, true
	}
	if err := cs.leave(ctx, j.access.Name); err != nil {
		cs.s.d.Log.Warn("realtime: leave channel", "channel", j.access.Name, "err", err)
	}
	return lostChannel{Channel: j.access.Name, Status: statusByCode[code], Code: code, Detail: basalt.ErrorMessage(err)}, false
}

// admit reports whether m goes to the client: the connection is still in
// its channel, and the channel's rules have not changed since the last
// check (if they have, it is checked now). lost is set when the check
// took the connection out.
func (cs *channelSet) admit(ctx context.Context, m *realtime.Message) (ok bool, lost *lostChannel) {
	i := slices.IndexFunc(cs.joined, func(j *joinedChannel) bool {
		return j.access.Name == m.Channel && j.access.Tenant() == m.Tenant
	})
	if i < 0 {
		return false, nil // left since it was sent
	}
	j := cs.joined[i]
	if j.access.Current() {
		return true, nil
	}
	if l, ok := cs.still(ctx, j); !ok {
		return false, &l
	}
	return true, nil
}

// SSE frames of channels: no id line, since they are not positions of
// the log; a client's Last-Event-ID stays the last event's.

// message appends a broadcast or presence frame.
func (o *sseWriter) message(m *realtime.Message) {
	o.grow()
	o.buf = append(o.buf, "event: "...)
	o.buf = append(o.buf, m.Type...)
	o.buf = append(o.buf, "\ndata: "...)
	o.buf = append(o.buf, m.Body...)
	o.buf = append(o.buf, "\n\n"...)
}

// joined appends the frame that tells the client it is in a channel,
// its key, and who was there as it joined:
// {"channel","key","presence","present"}.
func (o *sseWriter) joined(name, key string, presence bool, present json.RawMessage) {
	data, _ := json.Marshal(map[string]any{"channel": name, "key": key, "presence": presence, "present": present})
	o.grow()
	o.buf = fmt.Appendf(o.buf, "event: joined\ndata: %s\n\n", data)
}

// left appends the frame that tells the client it lost a channel.
func (o *sseWriter) left(l lostChannel) {
	data, _ := json.Marshal(l)
	o.grow()
	o.buf = fmt.Appendf(o.buf, "event: left\ndata: %s\n\n", data)
}
