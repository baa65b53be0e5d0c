<?php
// The anchors' PHP worker behind gearmand: echo, the seed's ecard drawn with
// GD, and a thumbnail with Imagick — the same jobs DIPS workers do.
// usage: php worker.php <port> <font-file>
[$self, $port, $fontFile] = $argv;

function ecard_gd(GearmanJob $job) {
    global $fontFile;
    $data = unserialize($job->workload());
    $values = array_map('trim', explode(',', preg_replace('/\s+/', '', $data['pData'])));
    if (count($values) != 80) { $job->sendException('pData has ' . count($values) . ' values, expected 80'); return GEARMAN_WORK_EXCEPTION; }
    $w = 465; $h = 313; $cw = 40; $ch = 28; $left = 12; $top = 48;
    $im = imagecreatetruecolor($w, $h);
    $white = imagecolorallocate($im, 255, 255, 255);
    $head = imagecolorallocate($im, 228, 228, 228);
    $line = imagecolorallocate($im, 80, 80, 80);
    $ink = imagecolorallocate($im, 0, 0, 0);
    imagefilledrectangle($im, 0, 0, $w, $h, $white);
    imagefilledrectangle($im, $left, $top, $left + 11 * $cw, $top + $ch, $head);
    imagefilledrectangle($im, $left, $top, $left + $cw, $top + 9 * $ch, $head);
    for ($r = 0; $r <= 9; $r++) imageline($im, $left, $top + $r * $ch, $left + 11 * $cw, $top + $r * $ch, $line);
    for ($c = 0; $c <= 11; $c++) imageline($im, $left + $c * $cw, $top, $left + $c * $cw, $top + 9 * $ch, $line);
    imagettftext($im, 12, 0, $left, 34, $ink, $fontFile, 'PASSPOD MATRIXCARD SN: ' . $data['pSN']);
    $cols = '1234567890'; $rows = 'ABCDEFGH';
    for ($c = 0; $c < 10; $c++) imagettftext($im, 12, 0, $left + ($c + 1) * $cw + 15, $top + 20, $ink, $fontFile, $cols[$c]);
    for ($r = 0; $r < 8; $r++) imagettftext($im, 12, 0, $left + 15, $top + ($r + 1) * $ch + 20, $ink, $fontFile, $rows[$r]);
    foreach ($values as $i => $v) {
        $r = intdiv($i, 10); $c = $i % 10;
        imagettftext($im, 12, 0, $left + ($c + 1) * $cw + 10, $top + ($r + 1) * $ch + 20, $ink, $fontFile, str_pad($v, 2, '0', STR_PAD_LEFT));
    }
    ob_start();
    imagepng($im);
    imagedestroy($im);
    return ob_get_clean();
}

// Image jobs with Imagick: the same parameters the DIPS functions take.
function imagick_job(GearmanJob $job) {
    $data = unserialize($job->workload());
    $im = new Imagick();
    $im->readImageBlob($data['image']);
    $im->autoOrient();
    switch ($job->functionName()) {
        case 'thumbnail':
            $im->thumbnailImage((int)$data['width'], 0);
            break;
        case 'resize':
            $im->cropThumbnailImage((int)$data['width'], (int)$data['height']);
            break;
        case 'crop':
            $im->cropImage((int)$data['width'], (int)$data['height'], (int)$data['left'], (int)$data['top']);
            $im->setImagePage(0, 0, 0, 0);
            break;
        case 'rotate':
            $im->rotateImage(new ImagickPixel('black'), (float)$data['angle']);
            break;
        case 'blur':
            $im->gaussianBlurImage(0, (float)$data['sigma']);
            break;
        case 'grayscale':
            $im->transformImageColorspace(Imagick::COLORSPACE_GRAY);
            break;
        case 'watermark':
            $draw = new ImagickDraw();
            $draw->setFont($GLOBALS['fontFile']);
            $draw->setFontSize((int)$data['size']);
            $draw->setFillColor(new ImagickPixel('rgba(255,255,255,0.5)'));
            $draw->setGravity(Imagick::GRAVITY_SOUTHEAST);
            $im->annotateImage($draw, 16, 16, 0, $data['text']);
            break;
        case 'convert':
            break;
    }
    $im->stripImage();
    $im->setImageFormat($data['format'] ?? 'jpeg');
    $im->setImageCompressionQuality(80);
    return $im->getImageBlob();
}

$worker = new GearmanWorker();
$worker->addServer('127.0.0.1', (int)$port);
$worker->addFunction('echo', function (GearmanJob $job) { return $job->workload(); });
$worker->addFunction('ecard', 'ecard_gd');
// the burst scenario's job: sleep as long as asked (DIPS's delay function does the same)
$worker->addFunction('delay', function (GearmanJob $job) { usleep((int)unserialize($job->workload())['ms'] * 1000); return 'done'; });
if (extension_loaded('imagick')) {
    foreach (['thumbnail', 'resize', 'crop', 'rotate', 'blur', 'grayscale', 'watermark', 'convert'] as $fn) $worker->addFunction($fn, 'imagick_job');
}
while ($worker->work());
