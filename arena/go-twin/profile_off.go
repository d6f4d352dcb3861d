//go:build !pgoprofile

package main

// startProfile is a no-op in every ordinary build; see profile_on.go.
func startProfile() func() { return func() {} }
