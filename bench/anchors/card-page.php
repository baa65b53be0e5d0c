<?php
// The offload scenario's web page: a PHP page served by php-fpm behind nginx that
// returns the seed's card — drawn in-process with GD (?mode=gd, the web tier does the
// work) or made by DIPS through the Gearman gateway (?mode=dips, the seed's client code).
// The environment (fastcgi_param) names the font and the gateway port.
$data = ['pSN' => '1234567890', 'pData' => implode(', ', array_map(fn($i) => sprintf('%02d', ($i * 37) % 100), range(0, 79)))];
if (($_GET['mode'] ?? 'gd') === 'gd') {
    require __DIR__ . '/ecard-gd.php';
    $png = ecard_png($data, getenv('DIPS_FONT') ?: $_SERVER['DIPS_FONT']);
} else {
    $dips = new GearmanClient();
    $dips->addServer('127.0.0.1', (int)($_SERVER['DIPS_GATEWAY_PORT'] ?? 4730));
    $png = $dips->doNormal('ecard', serialize($data));
    if ($dips->returnCode() != GEARMAN_SUCCESS) { http_response_code(502); exit('dips: ' . $dips->error()); }
}
header('Content-Type: image/png');
echo $png;
