package api

import (
	"context"
	"encoding/json"

	"basalt.dev/basalt"
	"basalt.dev/basalt/realtime"
)

// Channels over WebSocket: join, leave and broadcast messages on the open
// connection (docs/api.md, "Channels").

type (
	// wsJoined answers join: the connection is in the channel, with its
	// key, present or not.
	wsJoined struct {
		Type     string          `json:"type"`
		ID       string          `json:"id,omitempty"`
		Channel  string          `json:"channel"`
		Key      string          `json:"key"`
		Presence bool            `json:"presence"`
		Present  json.RawMessage `json:"present"` // who was there as it joined
	}
	// wsLeft answers leave, or tells the client that the server took it
	// out of a channel it may no longer use (with why).
	wsLeft struct {
		Type string `json:"type"`
		ID   string `json:"id,omitempty"`
		lostChannel
	}
	// wsSent acknowledges a broadcast that carried an id.
	wsSent struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
)

// channelMessage answers join, leave and broadcast; refused ones get an
// error message. The error returned is a failed write.
func (wc *wsConn) channelMessage(ctx context.Context, m *wsIn) error {
	var answer any
	var err error
	switch m.Type {
	case "join":
		answer, err = wc.join(ctx, m)
	case "leave":
		if err = wc.chans.leave(ctx, m.Channel); err == nil {
			answer = wsLeft{Type: "left", ID: m.ID, lostChannel: lostChannel{Channel: m.Channel}}
		}
	case "broadcast":
		err = wc.broadcast(ctx, m)
		if err == nil && m.ID != "" {
			answer = wsSent{"sent", m.ID}
		}
	}
	if err != nil {
		return wc.refuse(ctx, m.ID, err)
	}
	if answer == nil {
		return nil
	}
	return wc.send(ctx, answer)
}

func (wc *wsConn) join(ctx context.Context, m *wsIn) (any, error) {
	meta, err := parsePresence(presenceField(m.Presence))
	if err != nil {
		return nil, err
	}
	others := len(wc.watches) + len(wc.chans.joined)
	if wc.chans.find(m.Channel) >= 0 {
		others-- // a join again changes presence only
	}
	if m.Channel == "" {
		return nil, basalt.Invalid("Name the channel.", basalt.FieldError{Field: "channel", Code: "required", Message: `{"type":"join","channel":"docs/ID"}`})
	}
	access, err := wc.s.authorizeChannels(ctx, []string{m.Channel}, others)
	if err != nil {
		return nil, err
	}
	if err := wc.chans.join(ctx, access[0], meta); err != nil {
		return nil, err
	}
	return wsJoined{Type: "joined", ID: m.ID, Channel: m.Channel, Key: wc.chans.Key(), Presence: meta != nil,
		Present: wc.chans.present(m.Channel)}, nil
}

// presenceField is the presence of a join message: absent and null are
// none.
func presenceField(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}

// broadcast sends a message to a channel the connection is in; the
// connection's own members do not get it back.
func (wc *wsConn) broadcast(ctx context.Context, m *wsIn) error {
	i := wc.chans.find(m.Channel)
	if i < 0 {
		return basalt.Invalid("Join the channel before broadcasting to it.", basalt.FieldError{Field: "channel", Code: "not_joined",
			Message: "send {\"type\":\"join\",\"channel\":\"" + m.Channel + "\"} first"})
	}
	in := broadcastIn{Channel: m.Channel, Event: m.Event, Data: m.Data}
	data, err := in.check()
	if err != nil {
		return err
	}
	j := wc.chans.joined[i]
	if !j.access.Current() {
		if l, ok := wc.chans.still(ctx, j); !ok {
			return &basalt.Error{Code: l.Code, Message: l.Detail}
		}
	}
	from := realtime.FromPrincipal(wc.chans.p)
	from.Key = wc.chans.Key()
	return wc.s.publish(ctx, j.access, m.Event, data, from)
}

// channelDelivery sends a message of the connection's channels, if it
// still goes to the client (see channelSet.admit).
func (wc *wsConn) channelDelivery(ctx context.Context, msg *realtime.Message) error {
	ok, lost := wc.chans.admit(ctx, msg)
	if lost != nil {
		if err := wc.send(ctx, wsLeft{Type: "left", lostChannel: *lost}); err != nil {
			return err
		}
	}
	if !ok {
		return nil
	}
	wc.out = append(append(append(append(wc.out[:0], `{"type":"`...), msg.Type...), `",`...), msg.Body[1:]...)
	return wc.write(ctx, wc.out)
}

// recheckChannels tells the client of the channels it lost since the
// last check.
func (wc *wsConn) recheckChannels(ctx context.Context) error {
	for _, l := range wc.chans.recheck(ctx) {
		if err := wc.send(ctx, wsLeft{Type: "left", lostChannel: l}); err != nil {
			return err
		}
	}
	return nil
}
