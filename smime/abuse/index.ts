export { REPORT_FORMAT, FORWARD_FORMAT, REPORT_CONTENT_TYPE, createAbuseReport, type CreateAbuseReportParams, type MemberReportContent } from './report';
