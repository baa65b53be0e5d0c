<?php
// The seed's password matrix card drawn with PHP + GD: the anchors' worker and the
// offload scenario's web page (drawing in-process) both use it.
function ecard_png(array $data, string $fontFile): string {
    $values = array_map('trim', explode(',', preg_replace('/\s+/', '', $data['pData'])));
    if (count($values) != 80) throw new InvalidArgumentException('pData has ' . count($values) . ' values, expected 80');
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
