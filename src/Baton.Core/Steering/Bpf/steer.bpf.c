// SPDX-License-Identifier: GPL-2.0
// Baton's flow steering at tc clsact ingress of the router's client-facing interface
// (DESIGN.md §2, §5). Only TCP to the service (VIP:port, the one entry of `service`) from a client
// with an entry in `conns` is touched: forward rewrites both MACs and sends the frame back out the
// same interface to the back-end that owns the connection; block drops it while the connection is
// frozen in transit; hold sends it, unchanged, to the router's hold device, where the hold queue
// keeps it until the connection lands. Everything else goes on to the router's own stack.
// The same program runs at ingress of the hold device, where held frames come back to the router's
// stack when a connection lands here: such a replay carries its hold's generation as skb->mark and
// goes on to the stack while that hold lasts; processed late, after the connection was held again
// for its next move or forwarded, it is steered as a fresh frame would be (a late replay that
// reached the stack after the router's socket was dump-closed met the listener and was answered
// with a reset).
//
// `release` runs at ingress of the hold device's queue end and ends a hold without reordering.
// Frames on their way to the hold queue when the router switched a connection from hold to forward
// were overtaken by newer ones sent straight on: the new owner saw a hole and SACKed, and the
// client resent (465–1,049 client fast retransmits per 100,000 requests in the soak, in 21–30
// recoveries, each a 64 KiB GRO aggregate). Now a hold ends in three steps, each decided here
// against the connection's `slots` word, which the router changes with atomic compare-and-swap:
//  1. held: frames come to the queue end and are dropped here; the hold queue's packet socket saw
//     each one first (taps run before tc) and the word counts them (HELD);
//  2. open: the router has replayed every frame the word counted and set OPEN in the same step;
//     frames still on the hold path, and all newer ones (RELEASE: the client-facing program sends
//     them this way too, marked PASS), are sent on from here, behind the older ones;
//  3. direct: once no frame is on the hold path (INFLIGHT 0), the router sets DIRECT and then
//     steers the connection straight again.
//
// Build (build.sh, which also refreshes steer.bpf.o next to this file):
//   clang-14 -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c steer.bpf.c
// (-mcpu=v3 for the atomic fetch-and-add on `slots`)
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
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static long (*bpf_xdp_adjust_meta)(struct xdp_md *xdp, int delta) = (void *)BPF_FUNC_xdp_adjust_meta;

#define BPF_F_INGRESS_REDIRECT 1 // BPF_F_INGRESS of bpf_redirect, an enum in linux/bpf.h

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define net16(x) __builtin_bswap16(x)
#else
#define net16(x) (x)
#endif

#define IP_FRAGMENT_OFFSET 0x1fff

// Values of flow_action.action. Anything but FORWARD, HOLD and RELEASE drops: a packet of a
// connection the router has no live socket for must never reach its stack (it would answer with a
// reset). HOLD redirects to one end of the hold veth pair; the hold queue reads the other end.
// RELEASE sends frames the same way, marked PASS, and `release` sends them on to the entry's
// target: out `ifindex` to backend_mac, or (ifindex is the hold device) into the router's stack.
enum { STEER_BLOCK = 0, STEER_FORWARD = 1, STEER_HOLD = 2, STEER_RELEASE = 3 };

// skb->mark of a frame sent to the hold path in RELEASE: the hold queue's socket filter skips it,
// and `release` sends it on. Hold generations stay below it.
#define MARK_PASS 0x80000000u

// A connection's word in `slots` (HOLD and RELEASE entries have one): the frames `release` left to
// the hold queue in this hold, the frames on the hold path now, and the release's progress.
#define SLOT_HELD_ONE 1ull              // bits 0..23
#define SLOT_INFLIGHT_ONE (1ull << 24)  // bits 24..47
#define SLOT_OPEN (1ull << 63)
#define SLOT_DIRECT (1ull << 62)

// Client address and port as they are on the wire (network byte order). 8 bytes.
struct flow_key {
    __u32 client_addr;
    __u16 client_port;
    __u16 pad;
};

// 40 bytes.
struct flow_action {
    __u32 action;
    __u32 ifindex;
    __u8 backend_mac[ETH_ALEN];
    __u8 router_mac[ETH_ALEN];
    __u32 generation; // HOLD, RELEASE: this hold's number, never 0; what its replays to the stack carry as mark
    __u32 slot;       // HOLD, RELEASE: the connection's index in `slots`
    // HOLD: the target of the release before this hold (0: none), for its frames still on the
    // hold path: sent before the hold began, they go where the connection's frames went then.
    // RELEASE: its own target (the next hold clears OPEN before it replaces the entry).
    __u32 prev_ifindex;
    __u8 prev_mac[ETH_ALEN];
    __u16 pad;
};

// The service on the VIP, network byte order, and the hold device's ifindex (0: no hold queue). 12 bytes.
struct service {
    __u32 addr;
    __u16 port;
    __u16 pad;
    __u32 hold_ifindex;
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

// One word per connection held or being released, shared with the router (mmap): both sides change
// it only with atomic operations, so "count this frame as held" here and "open, if the count is
// still what I replayed" there never interleave.
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 65536);
    __uint(map_flags, BPF_F_MMAPABLE);
    __type(key, __u32);
    __type(value, __u64);
} slots SEC(".maps");

// Frames of a steered connection that `steer_xdp` passed on to the stack and `steer` has not seen
// yet (they wait in the backlog between the two, on another CPU with RPS). While a connection has
// any, `steer_xdp` passes its newer frames too: sent out at once, they would overtake these older
// ones, which `steer` forwards later to the same owner (reordering cost the soak hundreds of fast
// retransmits before the release steps above). A count that never comes down (a frame dropped in
// between) only keeps that connection on the tc path. LRU: the router never writes it.
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct flow_key);
    __type(value, __u64);
} passed SEC(".maps");

// What `steer_xdp` writes in front of a frame it counted in `passed` (XDP metadata, which the skb
// keeps as data_meta): `steer` then takes the frame off the count.
#define PASSED_MAGIC 0xba70c0deu

// 1: a packet of the service, key filled. 0: not ours. -1: the TCP ports are not in the linear
// part of the packet; *need bytes must be pulled first.
// 1: a packet of the service between data and end, key filled. 0: not ours. -1: the headers go
// past end; *need bytes must be there first.
INLINE int flow_in(void *data, void *end, struct flow_key *key, __u32 *need, __u32 *hold_ifindex)
{
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > end) {
        *need = sizeof(*eth) + sizeof(*ip);
        return -1;
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
        return -1;
    }
    if (ports[1] != svc->port) return 0;
    key->client_addr = ip->saddr;
    key->client_port = ports[0];
    key->pad = 0;
    *hold_ifindex = svc->hold_ifindex;
    return 1;
}

INLINE int flow_of(struct __sk_buff *skb, struct flow_key *key, __u32 *need, __u32 *hold_ifindex)
{
    int found = flow_in((void *)(long)skb->data, (void *)(long)skb->data_end, key, need, hold_ifindex);
    return found < 0 && skb->len < *need ? 0 : found;
}

// The flow's key and its entry; null for frames steering does not touch.
INLINE struct flow_action *entry_of(struct __sk_buff *skb, struct flow_key *key, __u32 *hold_ifindex, int *shot)
{
    __u32 need = 0;
    *shot = 0;
    int found = flow_of(skb, key, &need, hold_ifindex);
    if (found < 0) {
        // Headers outside the linear area: rare (drivers and GRO keep them linear), but a steered
        // packet let through here would meet the router's stack without a socket.
        if (bpf_skb_pull_data(skb, need) != 0) {
            *shot = 1;
            return 0;
        }
        found = flow_of(skb, key, &need, hold_ifindex);
    }
    if (found <= 0) return 0;
    return bpf_map_lookup_elem(&conns, key);
}

INLINE __u64 *slot_of(struct flow_action *a)
{
    __u32 i = a->slot;
    return bpf_map_lookup_elem(&slots, &i);
}

// Sends the frame to an owner: rewritten out `ifindex` to a back-end's `mac`, or into the router's
// stack (ifindex is the hold device: addressed to it, marked as this hold's replays are).
INLINE long deliver(struct __sk_buff *skb, struct flow_action *a, __u32 ifindex, __u8 *mac, __u32 hold_ifindex, int at_uplink)
{
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return TC_ACT_SHOT;
    if (ifindex == hold_ifindex) {
        if (at_uplink) return TC_ACT_OK;
        __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
        skb->mark = a->generation;
        return bpf_redirect(hold_ifindex, BPF_F_INGRESS_REDIRECT);
    }
    // The source MAC too: with the client's left in place the bridge learns it on the router's
    // port and the back-end's replies go to the router.
    __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, a->router_mac, ETH_ALEN);
    return bpf_redirect(ifindex, 0); // 0: the device's egress
}

SEC("tc")
int steer(struct __sk_buff *skb)
{
    struct flow_key key;
    __u32 hold_ifindex = 0;
    int shot;
    struct flow_action *a = entry_of(skb, &key, &hold_ifindex, &shot);
    if (shot) return TC_ACT_SHOT;
    // Only where steer_xdp ran: a frame released to the router's stack comes to the hold device's
    // ingress too, and may still carry the bytes in front of its data; counted off twice, the count
    // would wrap and keep that connection off XDP for good.
    void *meta = (void *)(long)skb->data_meta;
    if (skb->ifindex != hold_ifindex && meta + sizeof(__u32) <= (void *)(long)skb->data && *(__u32 *)meta == PASSED_MAGIC) {
        __u64 *n = bpf_map_lookup_elem(&passed, &key);
        // GRO may have merged several counted frames into this one.
        if (n) __sync_fetch_and_add(n, -(__s64)(skb->gso_segs > 1 ? skb->gso_segs : 1));
    }
    if (!a) return TC_ACT_OK;
    // A replay of this hold to the router's stack (skb->mark is 0 on frames from the wire).
    if ((a->action == STEER_HOLD || a->action == STEER_RELEASE) && skb->mark != 0 && skb->mark == a->generation)
        return TC_ACT_OK;
    if (a->action == STEER_FORWARD) return deliver(skb, a, a->ifindex, a->backend_mac, hold_ifindex, 1);
    if (a->action != STEER_HOLD && a->action != STEER_RELEASE) return TC_ACT_SHOT;

    // Every frame sent to the hold path is counted there until `release` has seen it.
    __u64 *slot = slot_of(a);
    if (!slot) return TC_ACT_SHOT;
    __u64 old = __sync_fetch_and_add(slot, SLOT_INFLIGHT_ONE);
    if (a->action == STEER_RELEASE) {
        // Between the router's DIRECT and its switch of the entry to forward.
        if (old & SLOT_DIRECT) {
            __sync_fetch_and_add(slot, -SLOT_INFLIGHT_ONE);
            return deliver(skb, a, a->ifindex, a->backend_mac, hold_ifindex, 1);
        }
        skb->mark = MARK_PASS;
    } else {
        // Held: unmarked, or the hold queue's socket filter would pass it by. A late replay to
        // the router's stack comes here again carrying an older hold's generation: `release`
        // counted it as held while the hold queue never saw it (lost, and the count one ahead).
        skb->mark = 0;
    }
    // Unchanged: out the hold device, in at its veth peer, where the hold queue's packet socket sees
    // it and `release` drops it or sends it on.
    return bpf_redirect(hold_ifindex, 0);
}

SEC("tc")
int release(struct __sk_buff *skb)
{
    struct flow_key key;
    __u32 hold_ifindex = 0;
    int shot;
    struct flow_action *a = entry_of(skb, &key, &hold_ifindex, &shot);
    // Nothing else arrives here; the stack drops it (addressed to the router's MAC, not this end's).
    if (shot || !a) return TC_ACT_SHOT;
    // Late on the hold path (its program ran a moment before the router went straight): on to
    // where the connection's frames go now.
    if (a->action == STEER_FORWARD) return deliver(skb, a, a->ifindex, a->backend_mac, hold_ifindex, 0);
    if (a->action != STEER_HOLD && a->action != STEER_RELEASE) return TC_ACT_SHOT;
    __u64 *slot = slot_of(a);
    if (!slot) return TC_ACT_SHOT;
    if (skb->mark == MARK_PASS) {
        __u64 old = __sync_fetch_and_add(slot, -SLOT_INFLIGHT_ONE);
        if (old & SLOT_OPEN) return deliver(skb, a, a->ifindex, a->backend_mac, hold_ifindex, 0);
        // Sent on by a release, arriving in the next hold: it was sent before that hold began.
        if (a->prev_ifindex == 0) return TC_ACT_SHOT;
        return deliver(skb, a, a->prev_ifindex, a->prev_mac, hold_ifindex, 0);
    }
    // The hold queue has this frame already; counted as held unless the router opened first.
    __u64 old = __sync_fetch_and_add(slot, SLOT_HELD_ONE - SLOT_INFLIGHT_ONE);
    if (old & SLOT_OPEN) return deliver(skb, a, a->ifindex, a->backend_mac, hold_ifindex, 0);
    return TC_ACT_SHOT;
}

// At the XDP hook of the client-facing interface, ahead of `steer`: a frame of a connection that is
// forwarded to a back-end on this same interface is rewritten and sent back out here (XDP_TX)
// without an skb, a backlog queue or tc. Everything else (holds, releases, other interfaces, the
// router's own traffic) passes on to `steer` unchanged. The frags variant keeps the device's GRO
// and GSO (a program without frags support turns off GSO on a veth's peer).
SEC("xdp.frags")
int steer_xdp(struct xdp_md *ctx)
{
    struct flow_key key;
    __u32 need = 0, hold_ifindex = 0;
    void *data = (void *)(long)ctx->data;
    if (flow_in(data, (void *)(long)ctx->data_end, &key, &need, &hold_ifindex) <= 0) return XDP_PASS;
    struct flow_action *a = bpf_map_lookup_elem(&conns, &key);
    if (!a) return XDP_PASS;
    __u64 *n = bpf_map_lookup_elem(&passed, &key);
    if (a->action == STEER_FORWARD && a->ifindex == ctx->ingress_ifindex && (!n || *n == 0)) {
        struct ethhdr *eth = data;
        if ((void *)(eth + 1) > (void *)(long)ctx->data_end) return XDP_PASS;
        __builtin_memcpy(eth->h_dest, a->backend_mac, ETH_ALEN);
        __builtin_memcpy(eth->h_source, a->router_mac, ETH_ALEN);
        return XDP_TX;
    }
    // Counted only when `steer` can tell it was: the metadata must fit.
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(__u32)) != 0) return XDP_PASS;
    __u32 *meta = (void *)(long)ctx->data_meta;
    if ((void *)(meta + 1) > (void *)(long)ctx->data) return XDP_PASS;
    *meta = PASSED_MAGIC;
    if (n) {
        __sync_fetch_and_add(n, 1);
    } else {
        __u64 one = 1;
        if (bpf_map_update_elem(&passed, &key, &one, BPF_NOEXIST) != 0) {
            n = bpf_map_lookup_elem(&passed, &key);
            if (n) __sync_fetch_and_add(n, 1);
        }
    }
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
