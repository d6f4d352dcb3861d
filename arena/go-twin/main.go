// Command go-twin is the Go twin of the overkill products service.
package main

import "os"

func main() { os.Exit(run()) }
