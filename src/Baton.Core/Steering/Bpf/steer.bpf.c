// SPDX-License-Identifier: GPL-2.0
// Baton's flow steering at tc clsact ingress of the router's client-facing interface
// (DESIGN.md §2, §5). Only TCP to the service (VIP:port, the one entry of `service`) from a client
// with an entry in `conns` is touched: forward rewrites both MACs and sends the frame back out the
// same interface to the back-end that owns the connection; block drops it while the connection is
// frozen in transit; hold sends it, unchanged, to the router's hold device (ifindex), where the
// hold queue keeps it until the connection lands. Everything else goes on to the router's own stack.
// The same program runs at ingress of the hold device, where held frames come back to the router's
// stack when a connection lands here: such a replay carries its hold's generation as skb->mark and
// goes on to the stack while that hold lasts; processed late, after the connection was held again
// for its next move or forwarded, it is steered as a fresh frame would be (a late replay that
// reached the stack after the router's socket was dump-closed met the listener and was answered
// with a reset).
//
// Build (build.sh, which also refreshes steer.bpf.o next to this file):
//   clang-14 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c steer.bpf.c
// Only kernel UAPI headers (linux-libc-dev) are needed: the few helpers are declared here, so the
// build does not depend on libbpf-dev's bpf_helpers.h.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define INLINE static inline __attribute__((always_inline))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) = (void *)BPF_FUNC_redirect;
static long (*bpf_skb_pull_data)(struct __sk_buff *skb, __u32 len) = (void *)BPF_FUNC_skb_pull_data;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define net16(x) __builtin_bswap16(x)
#else
#define net16(x) (x)
#endif

#define IP_FRAGMENT_OFFSET 0x1fff

// Values of flow_action.action. Anything but FORWARD and HOLD drops: a packet of a connection the
// router has no live socket for must never reach its stack (it would answer with a reset). HOLD
// redirects to one end of the hold veth pair; the hold queue reads the other end.
enum { STEER_BLOCK = 0, STEER_FORWARD = 1, STEER_HOLD = 2 };

// Client address and port as they are on the wire (network byte order). 8 bytes.
struct flow_key {
    __u32 client_addr;
    __u16 client_port;
    __u16 pad;
};

// 24 bytes.
struct flow_action {
    __u32 action;
    __u32 ifindex;
    __u8 backend_mac[ETH_ALEN];
    __u8 router_mac[ETH_ALEN];
    __u32 generation; // HOLD: this hold's number, never 0; what its replays to the stack carry as mark
};

// The service on the VIP, network byte order. 8 bytes.
struct service {
    __u32 addr;
    __u16 port;
    __u16 pad;
};

// Preallocated (the default): an update never allocates, 0.8 µs per change measured here.
// One entry per connection that is away at a back-end or in transit.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, struct flow_key);
    __type(value, struct flow_action);
} conns SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct service);
} service SEC(".maps");

// 1: a packet of the service, key filled. 0: not ours. -1: the TCP ports are not in the linear
// part of the packet; *need bytes must be pulled first.
INLINE int flow_of(struct __sk_buff *skb, struct flow_key *key, __u32 *need)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > end) {
        *need = sizeof(*eth) + sizeof(*ip);
        return skb->len >= *need ? -1 : 0;
    }
    if (eth->h_proto != net16(ETH_P_IP) || ip->protocol != IPPROTO_TCP) return 0;
    // Later fragments carry no TCP header.
    if (ip->frag_off & net16(IP_FRAGMENT_OFFSET)) return 0;
    __u32 zero = 0;
    struct service *svc = bpf_map_lookup_elem(&service, &zero);
    if (!svc || ip->daddr != svc->addr) return 0;
    __u32 ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip)) return 0;
    __u16 *ports = (void *)ip + ihl; // source port, destination port
    if ((void *)(ports + 2) > end) {
        *need = sizeof(*eth) + ihl + 4;
        return skb->len >= *need ? -1 : 0;
    }
    if (ports[1] != svc->port) return 0;
    key->client_addr = ip->saddr;
    key->client_port = ports[0];
    key->pad = 0;
    return 1;
}

SEC("tc")
int steer(struct __sk_buff *skb)
{
    struct flow_key key;
    __u32 need = 0;
    int found = flow_of(skb, &key, &need);
    if (found < 0) {
        // Headers outside the linear area: rare (drivers and GRO keep them linear), but a steered
        // packet let through here would meet the router's stack without a socket.
        if (bpf_skb_pull_data(skb, need) != 0) return TC_ACT_SHOT;
        found = flow_of(skb, &key, &need);
    }
    if (found <= 0) return TC_ACT_OK;

    struct flow_action *a = bpf_map_lookup_elem(&conns, &key);
    if (!a) return TC_ACT_OK;
    // A replay of this hold to the router's stack (skb->mark is 0 on frames from the wire).
    if (a->action == STEER_HOLD && skb->mark != 0 && skb->mark == a->generation) return TC_ACT_OK;
    // Unchanged: out the hold device, in at its veth peer, where the hold queue's packet socket sees
    // it and the stack then discards it: its destination is the router's MAC, not the peer's
    // (PACKET_OTHERHOST), so it never meets the router's socket while the connection is frozen.
    if (a->action == STEER_HOLD) return bpf_redirect(a->ifindex, 0);
    if (a->action != STEER_FORWARD) return TC_ACT_SHOT;

    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return TC_ACT_SHOT;
    // The source MAC too: with the client's left in place the bridge learns it on the router's
    // port and the back-end's replies go to the router.
    __builtin_memcpy(eth->h_dest, a->backend_mac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, a->router_mac, ETH_ALEN);
    return bpf_redirect(a->ifindex, 0); // 0: the device's egress
}

char LICENSE[] SEC("license") = "GPL";
