/* fp_neigh: neighbour lookups over rtnetlink in a given network namespace.
 * Needs root: builds its own namespace fpn<pid> with a veth pair and static
 * neighbour entries, removed by the (unchecked, parent-side) teardown. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fp_neigh.h"
#include "lib/fp_netlink.h"
#include "lib/fp_route.h"

static char g_ns[64], g_path[128];
static int g_ifindex;

static void sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, arg, arg);
	if (system(cmd) != 0)
		fprintf(stderr, "test_fp_neigh: command failed: %s\n", cmd);
}

static void setup(void)
{
	char cmd[256];
	FILE *f;

	snprintf(g_ns, sizeof(g_ns), "fpn%d", (int)getpid());
	snprintf(g_path, sizeof(g_path), "/run/netns/%s", g_ns);
	sh("ip netns add %s", g_ns);
	sh("ip -n %s link add fpa type veth peer name fpb && ip -n %s link set fpa up", g_ns);
	sh("ip -n %s neigh add 192.0.2.7 lladdr 02:11:22:33:44:55 dev fpa nud permanent && "
	   "ip -n %s neigh add 2001:db8::7 lladdr 02:66:77:88:99:aa dev fpa nud permanent",
	   g_ns);
	snprintf(cmd, sizeof(cmd), "ip -n %s -o link show fpa | cut -d: -f1", g_ns);
	f = popen(cmd, "r");
	if (!f || fscanf(f, "%d", &g_ifindex) != 1)
		g_ifindex = 0;
	if (f)
		pclose(f);
}

static void teardown(void)
{
	sh("ip netns del %s 2>/dev/null; true %s", g_ns);
}

static ino_t my_netns(void)
{
	struct stat st;
	return stat("/proc/thread-self/ns/net", &st) ? 0 : st.st_ino;
}

START_TEST(finds_ipv4_neighbour_in_given_netns)
{
	uint8_t mac[6], want[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	struct in_addr a;

	inet_pton(AF_INET, "192.0.2.7", &a);
	ck_assert_int_gt(g_ifindex, 0);
	ck_assert_int_eq(fp_neigh_lookup(g_path, AF_INET, &a, g_ifindex, mac), 0);
	ck_assert_mem_eq(mac, want, 6);
}
END_TEST

START_TEST(finds_ipv6_neighbour_on_any_interface)
{
	uint8_t mac[6], want[6] = {0x02, 0x66, 0x77, 0x88, 0x99, 0xaa};
	struct in6_addr a;

	inet_pton(AF_INET6, "2001:db8::7", &a);
	ck_assert_int_eq(fp_neigh_lookup(g_path, AF_INET6, &a, 0, mac), 0);
	ck_assert_mem_eq(mac, want, 6);
}
END_TEST

START_TEST(unknown_address_or_other_interface_is_enoent)
{
	uint8_t mac[6];
	struct in_addr a, b;

	inet_pton(AF_INET, "192.0.2.8", &a);
	inet_pton(AF_INET, "192.0.2.7", &b);
	ck_assert_int_eq(fp_neigh_lookup(g_path, AF_INET, &a, 0, mac), -ENOENT);
	ck_assert_int_eq(fp_neigh_lookup(g_path, AF_INET, &b, g_ifindex + 1000, mac), -ENOENT);
}
END_TEST

START_TEST(lookup_returns_to_the_callers_netns)
{
	uint8_t mac[6];
	struct in_addr a;
	ino_t before = my_netns();

	inet_pton(AF_INET, "192.0.2.7", &a);
	ck_assert_int_eq(fp_neigh_lookup(g_path, AF_INET, &a, 0, mac), 0);
	ck_assert_uint_eq(my_netns(), before);
	/* the entry exists only in the test namespace */
	ck_assert_int_eq(fp_neigh_lookup(NULL, AF_INET, &a, 0, mac), -ENOENT);
}
END_TEST

START_TEST(missing_netns_and_bad_family_are_errors)
{
	uint8_t mac[6], a[16] = {0};

	ck_assert_int_eq(fp_neigh_lookup("/run/netns/fpn-does-not-exist", AF_INET, a, 0, mac),
			 -ENOENT);
	ck_assert_int_eq(fp_neigh_lookup(NULL, AF_PACKET, a, 0, mac), -EAFNOSUPPORT);
}
END_TEST

/* A subscriber's set-up asks route, MAC and neighbour: one socket of the
 * caller's namespace serves them all, and survives the kernel's refusals. */
START_TEST(own_namespace_lookups_share_one_socket)
{
	struct in_addr lo = {htonl(INADDR_LOOPBACK)};
	uint8_t src[16], mac[6];
	unsigned long opens0;
	int ifindex, i;

	fp_netlink_close();
	opens0 = fp_netlink_opens();
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(fp_route_lookup(AF_INET, &lo, &ifindex, src), 0);
		ck_assert_int_eq(ifindex, (int)if_nametoindex("lo"));
		ck_assert_int_eq(fp_if_mac(ifindex, mac), 0);
		ck_assert_int_eq(fp_if_mac(0x7ffffff0, mac), -ENODEV);
		ck_assert_int_eq(fp_neigh_lookup(NULL, AF_INET, &lo, ifindex, mac), -ENOENT);
	}
	ck_assert_uint_eq(fp_netlink_opens() - opens0, 1);
	fp_netlink_close();
}
END_TEST

/* RTM_GETLINK's address is the one SIOCGIFHWADDR reports, on every
 * Ethernet interface of the test namespace (the veth) and of ours. */
START_TEST(if_mac_matches_siocgifhwaddr)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), checked = 0;

	ck_assert_ptr_nonnull(ifs);
	ck_assert_int_ge(fd, 0);
	for (it = ifs; it->if_index; it++) {
		struct ifreq ifr = {0};
		uint8_t mac[6];

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", it->if_name);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
			continue;
		ck_assert_int_eq(fp_if_mac((int)it->if_index, mac), 0);
		ck_assert_mem_eq(mac, ifr.ifr_hwaddr.sa_data, 6);
		checked++;
	}
	close(fd);
	if_freenameindex(ifs);
	ck_assert_int_gt(checked, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp_neigh");
	TCase *tc = tcase_create("neigh");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "test_fp_neigh: needs root (network namespaces)\n");
		return 1;
	}
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, finds_ipv4_neighbour_in_given_netns);
	tcase_add_test(tc, finds_ipv6_neighbour_on_any_interface);
	tcase_add_test(tc, unknown_address_or_other_interface_is_enoent);
	tcase_add_test(tc, lookup_returns_to_the_callers_netns);
	tcase_add_test(tc, missing_netns_and_bad_family_are_errors);
	tcase_add_test(tc, own_namespace_lookups_share_one_socket);
	tcase_add_test(tc, if_mac_matches_siocgifhwaddr);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
