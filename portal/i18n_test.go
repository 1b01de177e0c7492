package portal_test

import (
	"net/http"
	"testing"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/portal"
)

// The language follows Accept-Language (Chinese for "zh-CN,zh;q=0.9"), or
// Options.Language whatever the browser asks; event names and descriptions
// show as stored.
func TestLanguages(t *testing.T) {
	t.Parallel()
	c, _ := newClient(t, webhook.Config{RetryPolicy: noRetry})
	rc := newReceiver(t)
	seed(t, c, rc.URL)
	ids := broadcast(t, c, "order_paid", shop1, nil)

	zh := newSite(t, c, portal.Options{})
	zh.lang = "zh-CN,zh;q=0.9"
	r := zh.get("/")
	wantStatus(t, r, http.StatusUnauthorized)
	wantContains(t, r, `<html lang="zh-CN">`, "请打开您的链接")
	if v := r.Header.Get("Vary"); v != "Accept-Language" {
		t.Errorf("Vary %q", v)
	}
	zh.open(shop1)
	r = zh.get("/")
	wantContains(t, r, `<html lang="zh-CN">`, "端点", "添加端点", "24 小时失败率", "订单已支付", "发送测试事件", "退出")
	wantNotContains(t, r, "Add an endpoint", "Last attempt")
	r = zh.get("/endpoints/new")
	wantContains(t, r, "订单已支付", "客户完成了订单付款。", "全部事件", "保存前发送测试请求")
	r = zh.get("/deliveries/" + ids["wh_fail"])
	wantContains(t, r, "第 1 次尝试", "失败", "重新投递")
	r = zh.get("/endpoints/nope/edit")
	wantStatus(t, r, http.StatusNotFound)
	wantContains(t, r, "端点不存在")

	// English when asked, and by default.
	en := newSite(t, c, portal.Options{})
	en.lang = "en-GB,en;q=0.9"
	en.open(shop1)
	wantContains(t, en.get("/"), `<html lang="en">`, "Add an endpoint", "订单已支付")

	// The option wins over the browser.
	fixed := newSite(t, c, portal.Options{Language: portal.SimplifiedChinese})
	fixed.lang = "en-US"
	fixed.open(shop1)
	r = fixed.get("/")
	wantContains(t, r, `<html lang="zh-CN">`, "添加端点")
	if v := r.Header.Get("Vary"); v != "" {
		t.Errorf("Vary %q with a fixed language", v)
	}
}
