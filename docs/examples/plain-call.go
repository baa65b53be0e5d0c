// A Go service calls a DIPS function with a plain NATS request: no DIPS code.
//
//	go run plain-call.go nats://127.0.0.1:4222,nats://127.0.0.1:4223
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	servers := nats.DefaultURL
	if len(os.Args) > 1 {
		servers = os.Args[1]
	}
	nc, err := nats.Connect(servers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot reach NATS:", err)
		os.Exit(69)
	}
	defer nc.Close()

	values := make([]int, 80)
	for i := range values {
		values[i] = (i * 37) % 100
	}
	body, _ := json.Marshal(map[string]any{"pSN": "42", "pData": values})

	timeout := 5 * time.Second
	msg := nats.NewMsg("dips.fn.ecard")
	msg.Data = body
	msg.Header.Set("Dips-Encoding", "json")
	// the worker stops working for us when we stop waiting
	msg.Header.Set("Dips-Deadline", strconv.FormatInt(time.Now().Add(timeout).UnixMilli(), 10))

	reply, err := nc.RequestMsg(msg, timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		fmt.Fprintln(os.Stderr, "no worker serves ecard")
		os.Exit(69)
	case err != nil:
		fmt.Fprintln(os.Stderr, "no reply:", err)
		os.Exit(69)
	}
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "" {
		fmt.Fprintf(os.Stderr, "DIPS error %s: %s\n", code, reply.Header.Get("Nats-Service-Error"))
		os.Exit(1)
	}
	if err := os.WriteFile("card.png", reply.Data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("card.png: %s, %d bytes\n", reply.Header.Get("Content-Type"), len(reply.Data))
}
