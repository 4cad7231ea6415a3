/* A short video written here with libavcodec (MPEG-4 part 2 in AVI): moving gradients,
 * so the e2e tests need no large files and run quickly under valgrind. */
#ifndef MS_TEST_VIDEO_FIXTURE_H
#define MS_TEST_VIDEO_FIXTURE_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <stdlib.h>

/* Sends one frame (NULL: flush) and writes the packets that come out. */
static inline int fixture_encode(AVCodecContext *enc, AVFormatContext *fc, AVStream *st, AVFrame *frame, AVPacket *pkt)
{
    int ret = avcodec_send_frame(enc, frame);
    while (ret >= 0) {
        ret = avcodec_receive_packet(enc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return ret;
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(fc, pkt);
    }
    return ret;
}

/* Writes n_frames of width x height at fps to path; returns 0 on success. */
static inline int fixture_video(const char *path, int n_frames, int width, int height, int fps)
{
    AVFormatContext *fc = NULL;
    if (avformat_alloc_output_context2(&fc, NULL, "avi", path) < 0) return -1;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    AVStream *st = codec ? avformat_new_stream(fc, NULL) : NULL;
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int ret = -1;
    if (!st || !enc || !frame || !pkt) goto done;
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = 5;
    if (fc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (avcodec_open2(enc, codec, NULL) < 0 || avcodec_parameters_from_context(st->codecpar, enc) < 0) goto done;
    st->time_base = enc->time_base;
    if (avio_open(&fc->pb, path, AVIO_FLAG_WRITE) < 0) goto done;
    if (avformat_write_header(fc, NULL) < 0) goto done;
    frame->format = enc->pix_fmt;
    frame->width = width;
    frame->height = height;
    if (av_frame_get_buffer(frame, 0) < 0) goto done;
    for (int i = 0; i < n_frames; i++) {
        if (av_frame_make_writable(frame) < 0) goto done;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) frame->data[0][y * frame->linesize[0] + x] = (uint8_t)(x * 3 + y + i * 11);
        for (int y = 0; y < height / 2; y++)
            for (int x = 0; x < width / 2; x++) {
                frame->data[1][y * frame->linesize[1] + x] = (uint8_t)(128 + y + i * 5);
                frame->data[2][y * frame->linesize[2] + x] = (uint8_t)(64 + x * 2 - i * 3);
            }
        frame->pts = i;
        if (fixture_encode(enc, fc, st, frame, pkt) < 0) goto done;
    }
    if (fixture_encode(enc, fc, st, NULL, pkt) < 0) goto done;
    ret = av_write_trailer(fc) < 0 ? -1 : 0;
done:
    if (fc && fc->pb) avio_closep(&fc->pb);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    avformat_free_context(fc);
    return ret;
}

/* A 24-bit BMP of width x height with a pattern depending on seed; returns 0 on success. */
static inline int fixture_bmp(const char *path, int width, int height, int seed)
{
    int row = (width * 3 + 3) & ~3;
    unsigned size = 54u + (unsigned)(row * height);
    unsigned char header[54] = {'B', 'M'};
    unsigned values[][2] = {{2, size}, {10, 54}, {14, 40}, {18, (unsigned)width}, {22, (unsigned)height}};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        for (int b = 0; b < 4; b++) header[values[i][0] + b] = (unsigned char)(values[i][1] >> (8 * b));
    header[26] = 1;  /* planes */
    header[28] = 24; /* bits per pixel */
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(header, 1, 54, f) == 54;
    unsigned char *line = calloc(1, (size_t)row);
    ok = ok && line;
    for (int y = 0; ok && y < height; y++) {
        for (int x = 0; x < width; x++) {
            line[3 * x] = (unsigned char)(x * 4 + seed * 40);
            line[3 * x + 1] = (unsigned char)(y * 4);
            line[3 * x + 2] = (unsigned char)(seed * 90 + x + y);
        }
        ok = fwrite(line, 1, (size_t)row, f) == (size_t)row;
    }
    free(line);
    return fclose(f) == 0 && ok ? 0 : -1;
}

#endif
