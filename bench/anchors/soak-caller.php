<?php
// Soak caller: calls one function through one Gearman server until killed,
// printing one line per call: "<unix ms> <latency ms> <ok 1|0>".
// usage: php soak-caller.php <port> <function> <payload-file>
[$self, $port, $fn, $payloadFile] = $argv;
$payload = file_get_contents($payloadFile);
$expect = $fn === 'echo' ? $payload : null;
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$port);
while (true) {
    $t = hrtime(true);
    $r = @$client->doNormal($fn, $payload);
    $ok = $client->returnCode() == GEARMAN_SUCCESS && ($expect === null ? strlen($r) > 0 : $r === $expect);
    printf("%d %.3f %d\n", (int)(microtime(true) * 1000), (hrtime(true) - $t) / 1e6, $ok ? 1 : 0);
}
