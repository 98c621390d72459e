package api

import "github.com/prometheus/client_golang/prometheus"

// nopRegisterer accepts collectors without exposing them.
type nopRegisterer struct{}

func (nopRegisterer) Register(prometheus.Collector) error  { return nil }
func (nopRegisterer) MustRegister(...prometheus.Collector) {}
func (nopRegisterer) Unregister(prometheus.Collector) bool { return true }
